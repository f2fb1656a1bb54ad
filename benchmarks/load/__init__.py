"""The load benchmark (issue 9): ``chanye serve`` under 200 concurrent clients (see ``run``)."""
