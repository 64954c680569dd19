"""The benchmark spec of ``bench/check.py``: three bounded counters and a switch, about
``2 * (n + 1) ** 3`` reachable states (n = 78: 986,078), and the same transitions as a
plain function on tuples (the hand-written baseline).

Six actions over domains give nine (action, args) pairs per state: the explorer steps
each of them in each state, and most are enabled, as in real specs with a few counters.
"""

from __future__ import annotations

from monitor import Spec, action, invariant, require


def make_spec(n: int) -> type[Spec]:
    class Counters(Spec):
        a: int = 0
        b: int = 0
        c: int = 0
        on: bool = False

        @action(k=[1, 2])
        def add_a(self, k: int):
            require(self.a + k <= n, "a is full")
            self.a += k

        @action(k=[1, 2])
        def add_b(self, k: int):
            require(self.on, "switched off")
            require(self.b + k <= n, "b is full")
            self.b += k

        @action
        def add_c(self):
            require(self.c < n, "c is full")
            self.c += 1

        @action
        def switch(self):
            self.on = not self.on

        @action(which=["a", "b"])
        def drop(self, which: str):
            require(self.on, "switched off")
            if which == "a":
                require(self.a > 0, "a is empty")
                self.a -= 1
            else:
                require(self.b > 0, "b is empty")
                self.b -= 1

        @action
        def clear(self):
            require(self.a == n and self.b == n, "not both full")
            self.c = 0

        @invariant
        def bounded(self):
            return self.a <= n and self.b <= n and self.c <= n

    return Counters


def successors(n: int, s: tuple) -> list[tuple]:
    """The same transitions written by hand: what a person would code without specmon."""
    a, b, c, on = s
    out = []
    for k in (1, 2):
        if a + k <= n:
            out.append((a + k, b, c, on))
    if on:
        for k in (1, 2):
            if b + k <= n:
                out.append((a, b + k, c, on))
    if c < n:
        out.append((a, b, c + 1, on))
    out.append((a, b, c, not on))
    if on:
        if a > 0:
            out.append((a - 1, b, c, on))
        if b > 0:
            out.append((a, b - 1, c, on))
    if a == n and b == n:
        out.append((a, b, 0, on))
    return out


def reachable(n: int) -> int:
    return 2 * (n + 1) ** 3
