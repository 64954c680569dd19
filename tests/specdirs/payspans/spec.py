"""A card payment: authorize once; capture up to the authorized amount, or void;
refunds only after capture and never above what was captured; an authorization must
be settled (captured or voided) within 7 days."""

from monitor import Spec, action, invariant, require, within


class Payment(Spec):
    status: str = "new"  # new | authorized | voided
    authorized: int = 0
    captured: int = 0
    refunded: int = 0

    @action(amount=[100, 250])
    def authorize(self, amount: int):
        require(self.status == "new", "payment already authorized")
        require(amount > 0, "authorization amount must be positive")
        self.status, self.authorized = "authorized", amount

    @action(amount=[50, 100, 200])
    def capture(self, amount: int):
        require(self.status == "authorized", "capture needs an open authorization")
        require(self.captured + amount <= self.authorized, "capture exceeds authorization")
        self.captured += amount

    @action
    def void(self):
        require(self.status == "authorized" and self.captured == 0, "void after capture")
        self.status = "voided"

    @action(amount=[50, 100])
    def refund(self, amount: int):
        require(self.captured > 0, "refund before capture")
        self.refunded += amount

    @invariant
    def refunds_within_captures(self):
        return self.refunded <= self.captured

    settles = within(
        "7d",
        start=lambda s: s.status == "authorized",
        end=lambda s: s.captured > 0 or s.status == "voided",
    )

    def terminal(self):
        return self.status == "voided" or (self.captured > 0 and self.refunded == self.captured)
