"""Policy matching at city scale: chanye beside OpenFisca-core, plain numpy and rule-engine.

``population`` builds the enterprises, ``generate`` the policies (as plain data and as chanye policy
files), one module per competitor, and ``run`` measures them all on the same data and checks that
they agree.
"""
