"""A shop order for the OTLP tests: placed, paid once, then shipped; shipping before
payment is the violation the tests provoke."""

from monitor import Spec, action, require


class Order(Spec):
    status: str = "new"  # new | placed | paid | shipped
    paid: int = 0

    @action
    def place(self):
        require(self.status == "new", "order already placed")
        self.status = "placed"

    @action(amount=[10, 20])
    def pay(self, amount: int):
        require(self.status == "placed", "payment needs a placed, unpaid order")
        self.status, self.paid = "paid", amount

    @action
    def ship(self):
        require(self.status == "paid", "ship before payment")
        self.status = "shipped"

    def terminal(self):
        return self.status == "shipped"
