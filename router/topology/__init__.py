"""The broker topology as data: names, the pure builder, declaring, exporting, the routing model."""
