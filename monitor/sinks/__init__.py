"""Sinks (I/O layer): where verdicts go — report files, metrics, ITF."""
