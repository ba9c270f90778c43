# Ticket titles, made from a finding's evidence by one function per check
# (collector/src/tickets/titles.rs), in words a technician would write. Ids start with
# `title-`; every message is in every language (a test says so).


## any check: the agent's own words when they are plain, else the check's name

title-summary = { $summary }
title-check-failing = Check { $check } is failing
title-check-failing-on = Check { $check } is failing on { $resource }

## dns.resolve

title-dns-not-found = { $name } does not resolve (DNS server { $server } says it does not exist)
title-dns-server-error = { $name } does not resolve (DNS server { $server } answers { $code })
title-dns-no-answer = { $name } does not resolve (no DNS server answers)
title-dns-unresolved = { $name } does not resolve

## https.reachable, tcp.connect: $target is a host, or host:port

title-reach-no-name = { $target } cannot be reached: its name does not resolve
title-reach-refused = { $target } refuses connections
title-reach-timeout = { $target } does not answer (the connection times out)
title-reach-unreachable = { $target } cannot be reached
title-web-tls = { $target }: the secure connection (TLS) fails
title-web-http-status = { $target } answers with an error (HTTP { $status })
title-web-no-answer = { $target } does not answer as a website
title-web-bad-address = The web address of { $target } is not valid

## https.cert_expiry_days

title-cert-expired = The certificate of { $target } expired { $days ->
    [one] { $days } day
   *[other] { $days } days
} ago
title-cert-expires = The certificate of { $target } expires in { $days ->
    [one] { $days } day
   *[other] { $days } days
}
title-cert-expires-today = The certificate of { $target } expires today
title-cert-unreadable = The certificate of { $target } cannot be read

## disk, memory, cpu, thermal, battery, smart

title-disk-full = Disk { $disk } is { $pct }% full
title-disk-inodes = Disk { $disk } has used { $pct }% of its file slots (inodes)
title-memory-low = Only { $pct }% of memory is free
title-swap-full = Swap is { $pct }% used
title-cpu-busy = The processor is { $pct }% busy
title-cpu-busy-process = The processor is { $pct }% busy, mostly with { $process }
title-thermal-hot = { $sensor } is at { $celsius } °C
title-battery-worn = Battery { $battery } holds only { $pct }% of its original charge
title-smart-failing = Disk { $disk } is failing (SMART): back it up and replace it

## services, restarts, clock

title-service-missing = Service { $service } is not installed
title-service-failed = Service { $service } has failed
title-service-stopped = Service { $service } is not running
title-reboot-pending = A restart is needed to finish installing updates
title-clock-behind = The clock is { $seconds ->
    [one] { $seconds } second
   *[other] { $seconds } seconds
} behind
title-clock-ahead = The clock is { $seconds ->
    [one] { $seconds } second
   *[other] { $seconds } seconds
} ahead
title-clock-behind-minutes = The clock is { $minutes ->
    [one] { $minutes } minute
   *[other] { $minutes } minutes
} behind
title-clock-ahead-minutes = The clock is { $minutes ->
    [one] { $minutes } minute
   *[other] { $minutes } minutes
} ahead

## network

title-gateway-missing = No default gateway: this device cannot reach other networks
title-gateway-loss = Gateway { $gateway } loses { $pct }% of packets
title-gateway-unmeasured = Packet loss to gateway { $gateway } cannot be measured
title-gateway-slow = Gateway { $gateway } answers slowly ({ $ms } ms)
title-collector-unreachable = The collector { $target } cannot be reached
title-collector-slow = Connecting to the collector takes { $ms } ms

## crash and log watches

title-crash = { $app } crashed { $count ->
    [one] once
   *[other] { $count } times
}
title-crash-hours = { $app } crashed { $count ->
    [one] once
   *[other] { $count } times
} in the last { $hours ->
    [one] hour
   *[other] { $hours } hours
}
title-crash-minutes = { $app } crashed { $count ->
    [one] once
   *[other] { $count } times
} in the last { $minutes ->
    [one] minute
   *[other] { $minutes } minutes
}
title-log = { $count ->
    [one] { $count } log line matches
   *[other] { $count } log lines match
} “{ $watch }”
title-log-hours = { $count ->
    [one] { $count } log line matches
   *[other] { $count } log lines match
} “{ $watch }” in the last { $hours ->
    [one] hour
   *[other] { $hours } hours
}
title-log-minutes = { $count ->
    [one] { $count } log line matches
   *[other] { $count } log lines match
} “{ $watch }” in the last { $minutes ->
    [one] minute
   *[other] { $minutes } minutes
}

## the agent's own health

title-agent-outbox-evicted = The agent dropped { $count ->
    [one] { $count } finding
   *[other] { $count } findings
}: its outbox was full
title-agent-outbox-damaged = The agent's outbox was damaged
title-agent-outbox-damaged-lost = The agent's outbox was damaged: { $lost ->
    [one] { $lost } finding
   *[other] { $lost } findings
} lost
title-agent-config-invalid = The agent refused its edited configuration and keeps the previous one
title-agent-disk-full = The agent cannot save its data: the disk is full
title-agent-state-unwritable = The agent cannot write to its state folder

## user reports: their words, and where the diagnosis found the fault

title-report = { $who } reports: “{ $text }”
title-report-failing = { $who } reports: “{ $text }” ({ $layer ->
    [link] the network link is down
    [address] no network address
    [gateway] the gateway does not answer
    [dns] names do not resolve
    [tcp] the server does not accept connections
    [tls] the secure connection fails
    [http] the website answers with an error
    [url] the address is not valid
    [printer] the printer cannot be reached
    [queue] print jobs are stuck
    [mail] the mail server cannot be reached
    [greeting] the mail server does not answer properly
    [space] the disk is full
    [disk] a disk problem
    [write] files cannot be saved
    [cpu] the processor is overloaded
    [memory] memory is short
    [thermal] it is overheating
    [clock] the clock is wrong
    [crash] an application crashes
    [battery] the battery is worn
    [reboot] a restart is pending
    [service] a service is not running
   *[other] a check fails
})

## incidents: $count devices (the ticket's current number), the scope in words
## ($scope_kind: site, gateway, network, dns, app, in; anything else names no scope)

title-incident-dns = { $count ->
    [one] { $count } device
   *[other] { $count } devices
}{ $scope_kind ->
    [site] { " " }at { $scope }
    [gateway] { " " }behind gateway { $scope }
    [network] { " " }on network { $scope }
    [dns] { " " }using DNS server { $scope }
    [app] { " " }running version { $scope }
    [in] { " " }in { $scope }
   *[other] { "" }
} cannot resolve { $name }
title-incident-reach = { $count ->
    [one] { $count } device
   *[other] { $count } devices
}{ $scope_kind ->
    [site] { " " }at { $scope }
    [gateway] { " " }behind gateway { $scope }
    [network] { " " }on network { $scope }
    [dns] { " " }using DNS server { $scope }
    [app] { " " }running version { $scope }
    [in] { " " }in { $scope }
   *[other] { "" }
} cannot reach { $target }
title-incident-cert = { $count ->
    [one] { $count } device
   *[other] { $count } devices
}{ $scope_kind ->
    [site] { " " }at { $scope }
    [gateway] { " " }behind gateway { $scope }
    [network] { " " }on network { $scope }
    [dns] { " " }using DNS server { $scope }
    [app] { " " }running version { $scope }
    [in] { " " }in { $scope }
   *[other] { "" }
} see the certificate of { $target } expiring
title-incident-gateway = { $count ->
    [one] { $count } device
   *[other] { $count } devices
}{ $scope_kind ->
    [site] { " " }at { $scope }
    [gateway] { " " }behind gateway { $scope }
    [network] { " " }on network { $scope }
    [dns] { " " }using DNS server { $scope }
    [app] { " " }running version { $scope }
    [in] { " " }in { $scope }
   *[other] { "" }
} have trouble reaching gateway { $gateway }
title-incident-disk = Disk { $disk } is nearly full on { $count ->
    [one] { $count } device
   *[other] { $count } devices
}{ $scope_kind ->
    [site] { " " }at { $scope }
    [gateway] { " " }behind gateway { $scope }
    [network] { " " }on network { $scope }
    [dns] { " " }using DNS server { $scope }
    [app] { " " }running version { $scope }
    [in] { " " }in { $scope }
   *[other] { "" }
}
title-incident-crash = { $app } crashes on { $count ->
    [one] { $count } device
   *[other] { $count } devices
}{ $scope_kind ->
    [site] { " " }at { $scope }
    [gateway] { " " }behind gateway { $scope }
    [network] { " " }on network { $scope }
    [dns] { " " }using DNS server { $scope }
    [app] { " " }running version { $scope }
    [in] { " " }in { $scope }
   *[other] { "" }
}
title-incident-service = Service { $service } is not running on { $count ->
    [one] { $count } device
   *[other] { $count } devices
}{ $scope_kind ->
    [site] { " " }at { $scope }
    [gateway] { " " }behind gateway { $scope }
    [network] { " " }on network { $scope }
    [dns] { " " }using DNS server { $scope }
    [app] { " " }running version { $scope }
    [in] { " " }in { $scope }
   *[other] { "" }
}
title-incident-check = { $count ->
    [one] { $count } device
   *[other] { $count } devices
}{ $scope_kind ->
    [site] { " " }at { $scope }
    [gateway] { " " }behind gateway { $scope }
    [network] { " " }on network { $scope }
    [dns] { " " }using DNS server { $scope }
    [app] { " " }running version { $scope }
    [in] { " " }in { $scope }
   *[other] { "" }
} fail check { $check }
