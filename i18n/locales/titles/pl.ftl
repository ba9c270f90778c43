# Ticket titles, made from a finding's evidence by one function per check
# (collector/src/tickets/titles.rs), in words a technician would write. Ids start with
# `title-`; every message is in every language (a test says so).

