"""The hybridnodes.eks lab: a simulated edge site on one Linux machine.

Test-only code: it lives under tests/ and never ships in the collection.
"""
