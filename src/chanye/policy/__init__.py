"""Policies as rules: policy files, CEL checked and compiled to Ibis, matching over the registry,
explanations and what-if simulation."""
