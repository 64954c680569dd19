"""A shipment seen from two services' spans: the warehouse packs it, the carrier
picks it up and scans it until delivery; a cancelled shipment never leaves."""

from monitor import Spec, action, require


class Shipment(Spec):
    status: str = "new"  # new | packed | in_transit | delivered | cancelled
    parcels: int = 0
    scans: int = 0

    @action(parcels=[1, 2])
    def pack(self, parcels: int):
        require(self.status == "new", "packed twice")
        self.status, self.parcels = "packed", parcels

    @action
    def cancel(self):
        require(self.status in ("new", "packed"), "cancel after pickup")
        self.status = "cancelled"

    @action(parcels=[1, 2])
    def pick_up(self, parcels: int):
        require(self.status == "packed", "pickup of a shipment not packed")
        require(parcels == self.parcels, "picked up a different number of parcels")
        self.status = "in_transit"

    @action(hub=["a", "b"])
    def scan(self, hub: str):
        require(self.status == "in_transit", "scan outside transit")
        self.scans += 1

    @action
    def deliver(self):
        require(self.status == "in_transit", "delivery of a shipment not in transit")
        self.status = "delivered"

    def terminal(self):
        return self.status in ("delivered", "cancelled")
