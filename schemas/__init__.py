"""edXML and status packages (QCVN 102:2016): models, hardened parsing, validation, rendering."""
