"""The industry association's member portal: accounts, security, members, trainings, news."""
