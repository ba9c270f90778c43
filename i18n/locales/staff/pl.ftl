# The staff workspace's words (Polish): the queue, tickets, devices, search and ticket titles,
# for support technicians. Every message here is in every language (a test says so); ids
# start with `staff-` (pages) or `title-` (ticket titles made from a finding's evidence).

staff-language = Język
