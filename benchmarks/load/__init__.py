"""The load benchmark: ``chanye serve`` under 200 concurrent clients (see ``run``)."""
