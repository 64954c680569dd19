"""An order checkout saga across three services, with compensations.

Happy path: the checkout service places the order, the inventory service reserves its
stock, the payments service charges the card, the shipping service ships it.

Compensations (the saga's undo steps, driven by checkout):
- the charge is declined (a hard decline: the card is never charged again), or fails
  for a transient reason and its one internal retry fails too: release the stock,
  cancel the order;
- shipping fails: refund the charge, release the stock, cancel the order.

Every order is shipped or fully compensated (cancelled) within 30 minutes of being
placed. Amounts are integer minor units (cents).
"""

from monitor import Spec, action, invariant, require, within

#: amounts used when exploring the spec (and when adopting an order seen mid-saga);
#: production amounts are any positive integer
AMOUNTS = [1500, 4999]


class Order(Spec):
    amount: int = 0  # 0 until placed
    stock: str = "none"  # none | reserved | released
    releases: int = 0  # stock.released events seen
    payment: str = "none"  # none | declined | failed | charged
    retries: int = 0  # internal charge retries by the payments service
    charged: int = 0
    refunded: int = 0
    shipping: str = "none"  # none | shipped | failed
    cancelled: bool = False

    # -- checkout ---------------------------------------------------------------------

    @action(amount=AMOUNTS)
    def place(self, amount: int):
        require(self.amount == 0, "order placed twice")
        require(amount > 0, "order amount must be positive")
        self.amount = amount

    @action
    def cancel(self):
        require(self.amount > 0, "cancel of an order never placed")
        require(not self.cancelled, "order cancelled twice")
        require(self.shipping != "shipped", "cancel of a shipped order")
        self.cancelled = True

    # -- inventory --------------------------------------------------------------------

    @action
    def reserve_stock(self):
        require(self.amount > 0, "stock reserved for an order never placed")
        require(not self.cancelled, "stock reserved for a cancelled order")
        require(self.stock == "none", "stock reserved twice")
        self.stock = "reserved"

    @action
    def release_stock(self):
        # a compensation: only once the saga has failed. Releasing twice, or releasing
        # stock never reserved, passes this guard and breaks `stock_released_once`.
        require(self.payment in ("declined", "failed") or self.shipping == "failed",
                "stock released while the order is still going ahead")
        self.releases += 1
        if self.stock == "reserved":
            self.stock = "released"

    # -- payments ---------------------------------------------------------------------

    @action(amount=AMOUNTS)
    def charge(self, amount: int):
        require(self.stock == "reserved", "charge before the stock was reserved")
        require(not self.cancelled, "charge of a cancelled order")
        require(self.payment != "declined", "charge after a hard decline: a declined card is never charged again")
        require(self.payment != "charged", "order charged twice")
        require(self.payment == "none", "charge after a failed charge that was not retried")
        require(amount == self.amount, "charge amount differs from the order amount")
        self.payment, self.charged = "charged", amount

    @action
    def decline(self):
        # the payment.declined event inside a charge span (which then ends in ERROR:
        # charge_failed follows and keeps the decline)
        require(self.stock == "reserved", "decline before the stock was reserved")
        require(self.payment == "none", "decline without a charge in progress")
        self.payment = "declined"

    @action
    def charge_failed(self):
        # every charge span that ends in ERROR: a decline, or a transient failure (a
        # gateway timeout) that the payments service may retry once
        require(self.stock == "reserved", "charge failed before the stock was reserved")
        require(self.payment in ("none", "declined"), "charge failed with no charge in progress")
        if self.payment == "none":
            self.payment = "failed"

    @action(hidden=True)
    def retry_charge(self):
        # The payments service retries a transient failure once, inside its own worker:
        # the decision emits no span, so the monitor inserts this step when the next
        # charge span (or decline) shows the retry happened.
        require(self.payment == "failed", "only a failed charge is retried")
        require(self.retries < 1, "a charge is retried once")
        require(not self.cancelled and self.stock == "reserved", "no retry once compensating")
        self.retries += 1
        self.payment = "none"

    @action(amount=AMOUNTS)
    def refund(self, amount: int):
        # a compensation, after shipping failed (returns of shipped orders are another
        # flow). A refund above what is left passes and breaks `refunds_within_charge`.
        require(self.charged > 0, "refund before any charge")
        require(self.shipping == "failed", "refund while the order is still going ahead")
        require(amount > 0, "refund amount must be positive")
        self.refunded += amount

    # -- shipping ---------------------------------------------------------------------

    @action
    def ship(self):
        # deliberately no payment guard: shipping unpaid goods is a broken state, reported
        # as the invariant `ships_only_paid` with the state that breaks it
        require(self.stock == "reserved", "ship without reserved stock")
        require(not self.cancelled, "ship of a cancelled order")
        require(self.shipping == "none", "order shipped twice")
        self.shipping = "shipped"

    @action
    def ship_failed(self):
        require(self.payment == "charged", "shipping attempted for an order never charged")
        require(self.shipping == "none", "shipping failed after the order was shipped")
        self.shipping = "failed"

    # -- what must always hold --------------------------------------------------------

    @invariant
    def ships_only_paid(self):
        return self.shipping != "shipped" or (
            self.payment == "charged" and self.charged == self.amount)

    @invariant
    def refunds_within_charge(self):
        return self.refunded <= self.charged

    @invariant
    def stock_released_once(self):
        return self.releases == 0 or (self.releases == 1 and self.stock == "released")

    @invariant
    def cancelled_orders_are_compensated(self):
        return not self.cancelled or (self.stock != "reserved" and self.refunded == self.charged)

    settles = within(
        "30m",
        start=lambda s: s.amount > 0,
        end=lambda s: s.shipping == "shipped" or s.cancelled,
    )

    def terminal(self):
        return self.shipping == "shipped" or self.cancelled
