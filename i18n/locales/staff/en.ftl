# The staff workspace's words (English): the queue, tickets, devices, search and ticket titles,
# for support technicians. Every message here is in every language (a test says so); ids
# start with `staff-` (pages) or `title-` (ticket titles made from a finding's evidence).

staff-language = Language
staff-language-browser = As my browser says
staff-language-unknown = "{ $value }" is not a language Firstline speaks: choose English, 中文, Polski or Ελληνικά.
staff-time-zone = Time zone
staff-time-zone-browser = As my browser says
staff-time-zone-unknown = "{ $value }" is not a time zone name: use one such as Europe/Warsaw, or leave it empty for your browser's.
staff-preferences-heading = How the workspace reads
staff-preferences-saved = Saved: pages now show in this language and time zone.
staff-save = Save

## the frame around every page
staff-nav-queue = Queue
staff-nav-devices = Devices
staff-nav-knowledge = Knowledge
staff-nav-stats = Stats
staff-nav-account = Account
staff-search = Search
staff-search-placeholder = Search tickets, devices, people… (/)
staff-sign-out = Sign out
staff-role-technician = technician
staff-role-supervisor = supervisor
staff-role-admin = admin
staff-problem = Problem
staff-store-unavailable = The collector's store is unavailable: the page cannot be shown now. Try again in a minute.

## times
staff-ago = { $unit ->
    [s] { $count } s ago
    [min] { $count } min ago
    [h] { $count } h ago
   *[d] { $count } d ago
}
staff-due-in = { $unit ->
    [s] in { $count } s
    [min] in { $count } min
    [h] in { $count } h
   *[d] in { $count } d
}
staff-due-late = { $unit ->
    [s] { $count } s late
    [min] { $count } min late
    [h] { $count } h late
   *[d] { $count } d late
}
staff-never = never

## the queue
staff-queue-heading = Queue
staff-queue-empty = Nothing here: no ticket matches.
staff-queue-truncated = Showing the first { $count } tickets: narrow the filters to see the rest.
staff-queue-keys = Keys: j/k move · x select · o open · a assign · r resolve · / search
staff-ticket-count = { $count ->
    [one] { $count } ticket
   *[other] { $count } tickets
}
staff-view-open = All open
staff-view-mine = My tickets
staff-view-unassigned-urgent = Unassigned P1–P2
staff-view-breaching = Breaching within 1 h
staff-view-reported = Reported by users
staff-col-id = #
staff-col-priority = Priority
staff-col-what = What
staff-col-who = Devices and user
staff-col-site = Site
staff-col-age = Age
staff-col-sla = SLA
staff-col-updated = Updated
staff-col-assignee = Assignee
staff-col-state = State
staff-unassigned = Unassigned
staff-device-count = { $count ->
    [one] { $count } device
   *[other] { $count } devices
}
staff-select-all = Select every ticket shown
staff-state-open = Open
staff-state-new = New
staff-state-assigned = Assigned
staff-state-in_progress = In progress
staff-state-pending = Pending
staff-state-resolved = Resolved
staff-state-closed = Closed
staff-state-cancelled = Cancelled
staff-kind-device = Device
staff-kind-incident = Incident
staff-kind-report = User report

## filters
staff-filter-view = View
staff-filter-state = State
staff-filter-priority = Priority
staff-filter-tier = Tier
staff-filter-kind = Kind
staff-filter-assignee = Assignee
staff-filter-site = Site
staff-filter-check = Check
staff-filter-sort = Order
staff-filter-health = Health
staff-filter-any = Any
staff-filter-apply = Filter
staff-filter-clear = Clear
staff-filter-bad = { $field } "{ $value }" is not one: choose from { $valid }. Showing the list without it.

## actions on selected tickets
staff-bulk-selected = With the selected tickets:
staff-bulk-assign-to = Assign to…
staff-bulk-assign = Assign
staff-bulk-note-placeholder = Internal note
staff-bulk-note = Add note
staff-bulk-solution-placeholder = What fixed it
staff-bulk-resolve = Resolve
staff-bulk-done-assign = { $count ->
    [one] { $count } ticket assigned.
   *[other] { $count } tickets assigned.
}
staff-bulk-done-comment = { $count ->
    [one] Note added to { $count } ticket.
   *[other] Note added to { $count } tickets.
}
staff-bulk-done-resolve = { $count ->
    [one] { $count } ticket resolved.
   *[other] { $count } tickets resolved.
}
staff-bulk-merge-placeholder = Into ticket #
staff-bulk-merge = Merge
staff-bulk-done-merge = { $count ->
    [one] { $count } ticket merged.
   *[other] { $count } tickets merged.
}
staff-bulk-none-selected = No ticket was selected: tick the tickets first, then choose the action.
staff-bulk-bad-ticket = "{ $value }" is not a ticket number.
staff-bulk-bad-action = "{ $value }" is not an action for selected tickets: assign, comment, resolve or merge.
staff-bulk-too-many = { $count } tickets were selected; one action takes at most { $limit }.
staff-bulk-result = Some tickets were not changed
staff-bulk-partly = { $done } changed, { $refused } refused:
staff-back-to-queue = Back to the queue

## devices
staff-devices-heading = Devices
staff-devices-find = Find
staff-devices-find-placeholder = Hostname, user, site or OS
staff-filter-page = Page
staff-page-of = Page { $page } of { $pages }
staff-page-previous = ← Previous
staff-page-next = Next →
staff-devices-count = { $shown } of { $total } devices
staff-devices-none = No device matches.
staff-col-device = Device
staff-col-health = Health
staff-col-user = User
staff-col-last-seen = Last seen
staff-col-agent = Agent
staff-col-open-tickets = Open tickets
staff-health-problems = Problems
staff-health-firing = { $count ->
    [one] { $count } problem
   *[other] { $count } problems
}
staff-health-offline = Offline
staff-health-healthy = Healthy
staff-health-revoked = Revoked

## a ticket
staff-ticket-missing = There is no such ticket.
staff-ticket-priority-why = impact { $impact }, urgency { $urgency }
staff-level-high = high
staff-level-medium = medium
staff-level-low = low
staff-ticket-opened = Opened
staff-ticket-response-due = Response due
staff-ticket-resolution-due = Resolution due
staff-ticket-requester = Requester
staff-ticket-affected-users = Affected users
staff-ticket-resolution = Resolution
staff-ticket-systems = Ticket systems
staff-sync-not-yet = not created yet
staff-sync-waiting = { $count ->
    [one] 1 change waiting
   *[other] { $count } changes waiting
}
staff-sync-closed-there = closed there
staff-sync-in-step = in step
staff-ticket-problem-candidate = Recurring: a problem candidate
staff-ticket-known-fixes = Known fixes
staff-ticket-no-known-fixes = None yet: the solution you give when resolving will be suggested next time.
staff-ticket-added = Added
staff-ticket-recovered = Recovered
staff-ticket-actions = Actions
staff-ticket-reply-to = Reply to { $person } (they see it on their help page, as a notification and by e-mail)
staff-ticket-send-reply = Send reply
staff-ticket-note = Internal note (staff only)
staff-ticket-solution = Solution (what fixed it)
staff-ticket-escalate-why = Why escalate
staff-ticket-escalate = Escalate
staff-ticket-waiting-for = Waiting for
staff-ticket-set-pending = Set pending
staff-ticket-start = Start work
staff-ticket-cancel = Cancel ticket
staff-ticket-reopen = Reopen
staff-ticket-close = Close
staff-ticket-playbook = Playbook
staff-ticket-target = Target
staff-ticket-reproduce = Reproduce now
staff-ticket-merge = Merge into ticket
staff-ticket-merge-into = Ticket number, or an open incident
staff-ticket-merge-explain = Its devices, conditions and reporters move to that ticket; this one is cancelled as merged.
staff-ticket-reproduce-on = On which of its devices
staff-ticket-reproduce-choose = Choose at least one of the incident's devices to run it on.
staff-ticket-reproduce-queued = { $count ->
    [one] Asked { $count } device to reproduce it: the result appears on the timeline.
   *[other] Asked { $count } devices to reproduce it: the results appear on the timeline.
}
staff-ticket-timeline = Timeline
staff-ticket-when = When
staff-ticket-details = Details
staff-playbook-web = A website or web app
staff-playbook-network = The network
staff-playbook-slow = Slowness
staff-playbook-disk = Disk and saving files
staff-playbook-crash = A program crashing
staff-playbook-printing = Printing
staff-playbook-email = E-mail
staff-playbook-clock = The clock
staff-playbook-health = Overall health

## a device
staff-device-missing = There is no such device.
staff-device-os = OS
staff-device-cpu = CPU
staff-device-cores = { $count ->
    [one] { $count } core
   *[other] { $count } cores
}
staff-device-memory = Memory
staff-device-connected = Connected
staff-yes = yes
staff-no = no
staff-unknown = unknown
staff-device-over-budget = Over its budget
staff-device-over-budget-note = This device { $note }. Its agent or its configuration may be broken, or it is not what it claims to be.
staff-config = Configuration
staff-config-should-run = Fleet config
staff-config-runs = Running
staff-config-local = its local file only
staff-config-not-said = not said yet
staff-config-refused = Refused
staff-device-conditions = Current conditions
staff-device-resource = Resource
staff-device-since = Since
staff-device-summary = Summary
staff-device-history = Health history
staff-device-history-chart = Problems raised per check (last 500 findings)
staff-device-severity = Severity
staff-device-finding = Finding
staff-device-tickets = Tickets
staff-device-users = Users
staff-device-no-session = No one has a session on it now.
staff-device-account = Account
staff-device-session = Session
staff-device-where = Where
staff-device-from = { $line } from { $host }
staff-device-last-login = Last login
staff-agent-health = Agent health
staff-agent-health-none = Not reported yet: agents report it with their heartbeats.
staff-agent-check-cycle = Check cycle
staff-agent-memory = Resident memory
staff-agent-outbox = Outbox
staff-agent-outbox-depth = { $count ->
    [one] { $count } finding waiting
   *[other] { $count } findings waiting
}
staff-agent-reported = Reported

## search
staff-search-words = Words
staff-search-kind-tickets = Tickets
staff-search-kind-devices = Devices
staff-search-kind-people = People
staff-search-kind-knowledge = Knowledge
staff-search-hint = Type a few words: a person's name, a hostname, an error, a site. Every word must match; the last may be the start of a word.
staff-search-too-long = Use at most { $limit } characters.
staff-search-nothing = Nothing found for "{ $words }". Try fewer words, or check the spelling.

## knowledge
staff-fix-worked = { $count ->
    [one] worked { $count } time
   *[other] worked { $count } times
}
staff-knowledge-heading = Knowledge base
staff-knowledge-placeholder = disk, dns, outlook…
staff-knowledge-write = Write an article
staff-knowledge-write-for-ticket = Write an article for this fault
staff-knowledge-edit = Edit the article
staff-knowledge-articles = Articles
staff-knowledge-no-articles = No article matches yet. Write one: it is suggested on every ticket about the checks and faults it names.
staff-knowledge-none-for-ticket = No article answers this fault yet.
staff-knowledge-solutions = What fixed it before
staff-knowledge-no-solutions = Nothing found. Solutions appear here when tickets are resolved with one.
staff-knowledge-missing = There is no such article.
staff-knowledge-written-by = Written by { $author }, last changed by { $editor }
staff-knowledge-checks = Checks
staff-knowledge-fingerprints = Faults
staff-knowledge-title = Title
staff-knowledge-body = Text
staff-knowledge-markdown = Markdown: **bold**, *italic*, `code`, lists with -, links as [words](https://…). HTML shows as text.
staff-knowledge-checks-hint = Checks it answers (the start of their names, separated by spaces: dns. disk.free_low)
staff-knowledge-fingerprints-hint = Faults it answers (fingerprints from a ticket, separated by spaces)
staff-knowledge-title-empty = The article needs a title.
staff-knowledge-title-long = The title is too long: use at most { $limit } characters.
staff-knowledge-body-empty = The article needs some text.
staff-knowledge-body-long = The text is too long: at most { $limit } bytes.
staff-knowledge-too-many-links = An article links to at most { $limit } checks and { $limit } faults.
staff-knowledge-bad-check = "{ $value }" is not the start of a check's name: use lowercase letters, digits, dots, dashes and underscores, such as dns. or disk.free_low.
staff-knowledge-delete-who = Only a supervisor or an admin can delete an article.
staff-delete = Delete
staff-replies-heading = Canned replies
staff-replies-none = No canned replies yet: admins add them here.
staff-replies-add = Add or change a canned reply
staff-replies-text = What it says
staff-replies-same-title = A reply with the same title replaces the old one.
staff-replies-who = Only an admin can change canned replies.
staff-replies-bad = A canned reply needs a title (at most 200 characters) and some text.

## account
staff-password-heading = Change your password
staff-password-current = Current password
staff-password-new = New password (at least { $count } characters)
staff-password-again = New password again
staff-password-sessions = Your other sessions end; this one goes on.
staff-password-change = Change password
staff-password-differ = The two new passwords differ; nothing changed.
staff-password-changed = Password changed. Your other sessions have ended.

## sign-in
staff-sign-in = Sign in
staff-sign-in-name = Name
staff-sign-in-password = Password
staff-sign-in-again = Try again
staff-sign-in-wrong = Wrong name or password.
staff-sign-in-too-many = { $minutes ->
    [one] Too many failed sign-ins; try again in a minute.
   *[other] Too many failed sign-ins; try again in { $minutes } minutes.
}
staff-sign-in-plain-http = This page came over plain HTTP: your password would cross the network unencrypted. Ask your administrator to serve the collector over HTTPS (a TLS reverse proxy) and set public_url to its https:// address.
staff-search-unreadable = Search needs letters or digits, and at most { $limit } words.

## the stats page (supervisors)
staff-span = { $unit ->
    [s] { $count } s
    [min] { $count } min
    [h] { $count } h
   *[d] { $count } d
}
staff-chart-empty = { $title }: nothing yet.
staff-stats-supervisors-only = The stats are for supervisors: ask an admin for the supervisor role.
staff-stats-heading = Stats, last { $days } days
staff-stats-period = Period
staff-stats-opened = Tickets opened
staff-stats-findings = Findings received
staff-stats-compression = Noise compression
staff-stats-compression-value = { $ratio } findings per ticket
staff-stats-resolved = Resolved
staff-stats-auto-resolved = Resolved by themselves
staff-stats-per-category = Tickets per category
staff-stats-per-site = Tickets per site
staff-stats-per-technician = Tickets per technician
staff-stats-by-age = Open tickets by age
staff-stats-age-under_1h = under 1 h
staff-stats-age-under_1d = under 1 day
staff-stats-age-under_1w = under 1 week
staff-stats-age-older = older
staff-stats-times = Response and repair times
staff-stats-col-opened = Opened
staff-stats-mtta-median = Time to acknowledge, median
staff-stats-mtta-p90 = Time to acknowledge, 90th percentile
staff-stats-mttr-median = Time to resolve, median
staff-stats-mttr-p90 = Time to resolve, 90th percentile
staff-stats-response-met = Response SLA met
staff-stats-resolution-met = Resolution SLA met
staff-stats-recurring = Top recurring problems
staff-stats-fingerprint = Fault
staff-stats-tickets = Tickets
staff-stats-problem-candidate = problem candidate
staff-stats-people = People in the loop
staff-stats-reports = User reports
staff-stats-reports-value = { $reports } ({ $joined } joined the requester's open ticket)
staff-stats-found-first = Found before anyone reported
staff-stats-found-first-value = { $share } ({ $found } of { $reports } reports: a check had a ticket open for that device and area, or an incident explained it, when the report came)
staff-stats-unreported = Opened by checks, never reported
staff-stats-unreported-value = { $share } ({ $count } of the tickets opened: no user report was linked to them or explained by them)
staff-stats-outage = Answered by a known outage
staff-stats-outage-value = { $count } ({ $share } of reports: an open incident explained them, the user was told)
staff-stats-fixed = Requesters who confirmed "fixed"
staff-stats-fixed-value = { $share } ({ $fixed } of { $answers } who answered, latest answer per ticket)
staff-stats-csat = Satisfaction (CSAT)
staff-stats-csat-value = { $average } of 5 ({ $ratings } ratings)
staff-stats-csat-none = — (no ratings)
staff-stats-fixes = Fixes
staff-stats-runs = Runs
staff-stats-runs-value = { $verified } verified, { $not_verified } not verified, { $failed } failed, { $refused } refused by the device, { $waiting } waiting
staff-stats-verified-rate = Verified-fix rate
staff-stats-verified-rate-value = { $rate } (of the runs that ran: the probe that found the fault no longer finds it)
staff-stats-self-healed = Self-healed
staff-stats-self-healed-value = { $share } (of resolved tickets: an automatic fix resolved them, verified)
staff-stats-time-to-fix = Time to fix
staff-stats-time-to-fix-value = automatic { $auto }, by a person { $person } (median, from the ticket opening to the fix verified)

## the ticket's fixes
staff-fixes = Fixes
staff-fixes-none = No fix compiled into the agent answers this fault.
staff-fixes-record = (worked { $worked } of { $tried } times)
staff-fixes-devices = on { $count } devices, a few first
staff-fixes-running = { $fix } running
staff-fixes-apply = Apply { $fix }
staff-fixes-interface = Network link
staff-fixes-ask-user = { $fix } needs the user's consent on their help page
staff-fixes-off = { $fix } is off by policy
staff-fixes-mode-auto = automatic
staff-fixes-mode-approve = on a technician's approval
staff-fixes-mode-ask-user = with the user's consent
staff-fixes-mode-off = off
staff-fixes-col-fix = Fix
staff-fixes-col-device = Device
staff-fixes-col-allowed-by = Allowed by
staff-fixes-col-state = State
staff-fixes-col-asked = Asked
staff-fixes-col-answered = Answered
staff-fixes-canary = canary
staff-fix-state-queued = queued
staff-fix-state-sent = sent to the device
staff-fix-state-verified = verified
staff-fix-state-not_verified = not verified
staff-fix-state-failed = failed
staff-fix-state-refused = refused by the device
staff-fix-state-expired = expired
staff-fix-state-cancelled = cancelled

## timeline entry kinds
staff-event-opened = Opened
staff-event-state = State
staff-event-evidence = Evidence
staff-event-device = Device
staff-event-priority = Priority
staff-event-escalation = Escalation
staff-event-sla = SLA
staff-event-comment = Note
staff-event-assignment = Assignment
staff-event-flapping = Flapping
staff-event-stale = Silent device
staff-event-known-fix = Known fix
staff-event-problem = Problem
staff-event-merge = Merge
staff-event-related = Related
staff-event-report = User report
staff-event-reproduce = Reproduce
staff-event-notification = Notification
staff-event-sync = Ticket system
staff-event-reply = Reply
staff-event-requester-answer = Requester's answer
staff-event-fix = Fix

## fleet configuration (admins)
staff-nav-fleet = Fleet
staff-fleet-admins-only = The fleet's configuration is for admins.
staff-fleet-heading = Fleet configuration
staff-fleet-explain = Policies set agent settings (agent.toml's own keys) for groups of devices; where two set the same key, the higher precedence wins. Every change is a new version; agents apply it within seconds and say which version they run or why they refused it.
staff-fleet-policies = Policies
staff-fleet-name = Name
staff-fleet-group = Group
staff-fleet-precedence = Precedence
staff-fleet-version = Version
staff-fleet-updated = Changed
staff-fleet-rolling = rolling out: { $canaries } canaries, the rest on v{ $stable }
staff-fleet-rolling-long = Version { $version } runs on { $canaries } canary devices only; the others keep version { $stable } until it is promoted.
staff-fleet-versions = Versions the devices run
staff-fleet-running = Running
staff-fleet-refusing = Refused
staff-fleet-groups = Groups
staff-fleet-members = Devices
staff-fleet-created-by = Created by
staff-fleet-rule-site = at site { $site }
staff-fleet-rule-rule = hostname { $pattern }, OS { $os }
staff-fleet-rule-manual = { $count ->
    [one] { $count } device chosen by hand
   *[other] { $count } devices chosen by hand
}
staff-fleet-new-group = New group
staff-fleet-kind = Kind
staff-fleet-kind-site = By site
staff-fleet-kind-rule = By hostname and OS
staff-fleet-kind-manual = By hand
staff-fleet-group-value = Site, hostname pattern, or device ids
staff-fleet-group-os = OS contains
staff-fleet-add = Add
staff-fleet-new-policy = New policy
staff-fleet-settings = Settings (agent.toml)
staff-fleet-note = Why
staff-fleet-no-policy = There is no such policy.
staff-fleet-refused = Not saved
staff-fleet-change = Change
staff-fleet-canary = Roll out to canaries first
staff-fleet-canary-percent = Share of the group's devices (%)
staff-fleet-canary-group = Canary group
staff-fleet-bad-percent = "{ $value }" is not a share from 0 to 100: nothing was saved.
staff-fleet-save = Save as a new version
staff-fleet-promote = Promote to every device
staff-fleet-history = Versions
staff-fleet-by = By
staff-fleet-changes = What changed
staff-fleet-roll-back = Roll back to this version
