"""A leader lease with fencing tokens: one global instance per lease.

A coordination service grants the lease to one node at a time for a *term*; the term
number is also the fencing token the leader sends with every write to storage. A
holder renews before its TTL runs out; when it stops renewing (GC pause, network
partition) the lease expires, which the service does not log (`expire` is hidden),
and another node may acquire it in a higher term. The old holder may still believe
it leads and keep writing, so storage must reject any token lower than the highest
it has accepted (Kleppmann's fencing). Safety:

- at most one leader per term (`one_leader_per_term`);
- storage never accepts a write whose token is lower than one it already accepted
  (`fencing_tokens_never_go_back`).

`LeaseDraft` is the first draft: an expired lease is handed to the next node *in the
same term* and storage does not check tokens, so two leaders write in one term.
`specmon check specs/lease --spec LeaseDraft` finds it in three steps.
"""

from monitor import Spec, action, invariant, require, within

#: finite domains for exploring the model; production logs carry any names and terms
NODES = ("node-a", "node-b")
TERMS = (1, 2, 3)


def _grant(tokens: tuple, node: str, term: int) -> tuple:
    """`tokens` with `node`'s latest granted token set to `term` (sorted pairs)."""
    return tuple(sorted({**dict(tokens), node: term}.items()))


class Lease(Spec):
    status: str = "free"  # free | held | expired (TTL lapsed, nobody re-acquired yet)
    holder: str = ""  # the node granted the current term
    term: int = 0  # the current term: the fencing token handed to its holder
    term_leaders: tuple = ()  # every node granted the lease in this term (sorted)
    tokens: tuple = ()  # (node, latest token granted to it): what each node writes with
    fence: int = 0  # the highest token storage has accepted
    last_write: int = 0  # the token of storage's most recent accepted write

    def _take(self, node: str, term: int) -> None:
        earlier = self.term_leaders if term == self.term else ()
        self.term_leaders = tuple(sorted({*earlier, node}))
        self.status, self.holder, self.term = "held", node, term
        self.tokens = _grant(self.tokens, node, term)

    @action(node=NODES, term=TERMS)
    def acquire(self, node: str, term: int):
        require(self.status != "held", f"the lease is held by {self.holder} in term {self.term}")
        require(term > self.term,
                f"{node} acquired term {term}, but term {self.term} was already granted "
                f"(to {self.holder}): every acquisition must start a higher term")
        self._take(node, term)

    @action(node=NODES, term=TERMS)
    def renew(self, node: str, term: int):
        require(self.status == "held" and self.holder == node and self.term == term,
                f"{node} renewed term {term}, but the lease is {self.status} "
                f"(term {self.term}, last holder {self.holder or 'none'}): only the "
                "current holder renews, and only its own term")

    # Releases are explored in every term but the last: after releasing term 3 no higher
    # term is in the domain, and `specmon check` would report `failover` as unmeetable.
    @action(node=NODES, term=TERMS[:-1])
    def release(self, node: str, term: int):
        require(self.status == "held" and self.holder == node and self.term == term,
                f"{node} released term {term}, but the lease is {self.status} "
                f"(term {self.term}, last holder {self.holder or 'none'})")
        self.status = "free"

    @action(hidden=True)
    def expire(self):
        """The holder stopped renewing and the TTL ran out (not in the service's log)."""
        require(self.status == "held", "only a held lease expires")
        self.status = "expired"

    def _granted(self, node: str, token: int) -> None:
        require((node, token) in self.tokens,
                f"{node} wrote with fencing token {token}, which the lease service never "
                f"granted it (granted: {dict(self.tokens) or 'none'})")

    @action(node=NODES, token=TERMS)
    def write_accepted(self, node: str, token: int):
        self._granted(node, token)
        require(token >= self.fence,
                f"storage accepted token {token} from {node} after accepting token "
                f"{self.fence}: it must reject tokens below the highest it has accepted")
        self.fence, self.last_write = max(self.fence, token), token

    @action(node=NODES, token=TERMS)
    def write_rejected(self, node: str, token: int):
        self._granted(node, token)
        require(token < self.fence,
                f"storage rejected token {token} from {node}, but the highest token it "
                f"had accepted is {self.fence}: a current leader was fenced out")

    @invariant
    def one_leader_per_term(self):
        return len(self.term_leaders) <= 1

    @invariant
    def fencing_tokens_never_go_back(self):
        return self.last_write >= self.fence

    #: after a graceful release (rolling deploy) another node leads within 30 s
    failover = within("30s", start=lambda s: s.status == "free" and s.term > 0,
                      end=lambda s: s.status == "held")


class LeaseDraft(Lease):
    """The first draft. Two bugs a design review missed: an expired lease passes to
    the next node in the *same* term ("the old holder is gone anyway"), and storage
    accepts every write from a node holding a token, without comparing tokens."""

    @action(node=NODES, term=TERMS)
    def acquire(self, node: str, term: int):
        require(self.status != "held", f"the lease is held by {self.holder} in term {self.term}")
        if self.status == "expired":  # the bug: expiry hands over the term, unchanged
            require(term == self.term, f"an expired lease passes on in term {self.term}")
        else:
            require(term > self.term, f"a new acquisition starts a term above {self.term}")
        self._take(node, term)

    @action(node=NODES, token=TERMS)
    def write_accepted(self, node: str, token: int):
        self._granted(node, token)  # the bug: no comparison with the highest token
        self.fence, self.last_write = max(self.fence, token), token
