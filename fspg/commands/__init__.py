"""The ``fspg`` commands, one module per group; ``fspg.cli`` registers them on its group.

Each command is a thin shell over ``FeatureStore``: it reads options, calls the client and
prints the result through ``fspg.commands.common``. No SQL and no rules live here.
"""
