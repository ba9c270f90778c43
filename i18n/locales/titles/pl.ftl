# Ticket titles, made from a finding's evidence by one function per check
# (collector/src/tickets/titles.rs), in words a technician would write. Ids start with
# `title-`; every message is in every language (a test says so).


## dowolne sprawdzenie

title-summary = { $summary }
title-check-failing = Sprawdzenie { $check } nie przechodzi
title-check-failing-on = Sprawdzenie { $check } nie przechodzi dla { $resource }

## dns.resolve

title-dns-not-found = Nazwa { $name } nie daje się rozwiązać (serwer DNS { $server } twierdzi, że nie istnieje)
title-dns-server-error = Nazwa { $name } nie daje się rozwiązać (serwer DNS { $server } odpowiada { $code })
title-dns-no-answer = Nazwa { $name } nie daje się rozwiązać (żaden serwer DNS nie odpowiada)
title-dns-unresolved = Nazwa { $name } nie daje się rozwiązać

## https.reachable, tcp.connect

title-reach-no-name = Host { $target } jest nieosiągalny: jego nazwa nie daje się rozwiązać
title-reach-refused = Host { $target } odrzuca połączenia
title-reach-timeout = Host { $target } nie odpowiada (przekroczony czas połączenia)
title-reach-unreachable = Host { $target } jest nieosiągalny
title-web-tls = { $target }: bezpieczne połączenie (TLS) nie działa
title-web-http-status = { $target } odpowiada błędem (HTTP { $status })
title-web-no-answer = { $target } nie odpowiada jak strona internetowa
title-web-bad-address = Adres strony { $target } jest nieprawidłowy

## https.cert_expiry_days

title-cert-expired = Certyfikat { $target } wygasł { $days ->
    [one] { $days } dzień
   *[other] { $days } dni
} temu
title-cert-expires = Certyfikat { $target } wygasa za { $days ->
    [one] { $days } dzień
   *[other] { $days } dni
}
title-cert-expires-today = Certyfikat { $target } wygasa dzisiaj
title-cert-unreadable = Nie można odczytać certyfikatu { $target }

## dysk, pamięć, procesor, temperatura, bateria, SMART

title-disk-full = Dysk { $disk } jest zapełniony w { $pct }%
title-disk-inodes = Dysk { $disk } zużył { $pct }% miejsc na pliki (i-węzłów)
title-memory-low = Wolne jest tylko { $pct }% pamięci
title-swap-full = Pamięć wymiany jest zajęta w { $pct }%
title-cpu-busy = Procesor jest obciążony w { $pct }%
title-cpu-busy-process = Procesor jest obciążony w { $pct }%, głównie przez { $process }
title-thermal-hot = { $sensor } ma { $celsius } °C
title-battery-worn = Bateria { $battery } mieści już tylko { $pct }% pierwotnego ładunku
title-smart-failing = Dysk { $disk } ulega awarii (SMART): zrób kopię zapasową i wymień go

## usługi, ponowne uruchomienie, zegar

title-service-missing = Usługa { $service } nie jest zainstalowana
title-service-failed = Usługa { $service } uległa awarii
title-service-stopped = Usługa { $service } nie działa
title-reboot-pending = Potrzebne jest ponowne uruchomienie, aby dokończyć instalację aktualizacji
title-clock-behind = Zegar spóźnia się o { $seconds ->
    [one] { $seconds } sekundę
    [few] { $seconds } sekundy
    [many] { $seconds } sekund
   *[other] { $seconds } sekundy
}
title-clock-ahead = Zegar spieszy się o { $seconds ->
    [one] { $seconds } sekundę
    [few] { $seconds } sekundy
    [many] { $seconds } sekund
   *[other] { $seconds } sekundy
}
title-clock-behind-minutes = Zegar spóźnia się o { $minutes ->
    [one] { $minutes } minutę
    [few] { $minutes } minuty
    [many] { $minutes } minut
   *[other] { $minutes } minuty
}
title-clock-ahead-minutes = Zegar spieszy się o { $minutes ->
    [one] { $minutes } minutę
    [few] { $minutes } minuty
    [many] { $minutes } minut
   *[other] { $minutes } minuty
}

## sieć

title-gateway-missing = Brak bramy domyślnej: to urządzenie nie ma dostępu do innych sieci
title-gateway-loss = Brama { $gateway } gubi { $pct }% pakietów
title-gateway-unmeasured = Nie można zmierzyć utraty pakietów do bramy { $gateway }
title-gateway-slow = Brama { $gateway } odpowiada powoli ({ $ms } ms)
title-collector-unreachable = Kolektor { $target } jest nieosiągalny
title-collector-slow = Połączenie z kolektorem trwa { $ms } ms

## awarie programów i obserwowane dzienniki

title-crash = Program { $app } uległ awarii { $count ->
    [one] raz
   *[other] { $count } razy
}
title-crash-hours = Program { $app } uległ awarii { $count ->
    [one] raz
   *[other] { $count } razy
} w ciągu { $hours ->
    [one] ostatniej godziny
   *[other] ostatnich { $hours } godzin
}
title-crash-minutes = Program { $app } uległ awarii { $count ->
    [one] raz
   *[other] { $count } razy
} w ciągu { $minutes ->
    [one] ostatniej minuty
   *[other] ostatnich { $minutes } minut
}
title-log = Wiersze dziennika pasujące do „{ $watch }”: { $count }
title-log-hours = Wiersze dziennika pasujące do „{ $watch }” w ciągu { $hours ->
    [one] ostatniej godziny
   *[other] ostatnich { $hours } godzin
}: { $count }
title-log-minutes = Wiersze dziennika pasujące do „{ $watch }” w ciągu { $minutes ->
    [one] ostatniej minuty
   *[other] ostatnich { $minutes } minut
}: { $count }

## stan samego agenta

title-agent-outbox-evicted = Agent porzucił wyniki (liczba: { $count }): jego skrzynka nadawcza była pełna
title-agent-outbox-damaged = Skrzynka nadawcza agenta została uszkodzona
title-agent-outbox-damaged-lost = Skrzynka nadawcza agenta została uszkodzona: utracone wyniki (liczba: { $lost })
title-agent-config-invalid = Agent odrzucił zmienioną konfigurację i używa poprzedniej
title-agent-disk-full = Agent nie może zapisać swoich danych: dysk jest pełny
title-agent-state-unwritable = Agent nie może zapisywać w swoim folderze stanu

## zgłoszenia użytkowników

title-report = { $who } zgłasza: „{ $text }”
title-report-failing = { $who } zgłasza: „{ $text }” ({ $layer ->
    [link] brak połączenia sieciowego
    [address] brak adresu sieciowego
    [gateway] brama nie odpowiada
    [dns] nazwy nie dają się rozwiązać
    [tcp] serwer nie przyjmuje połączeń
    [tls] bezpieczne połączenie nie działa
    [http] strona odpowiada błędem
    [url] adres jest nieprawidłowy
    [printer] drukarka jest nieosiągalna
    [queue] zadania drukowania utknęły
    [mail] serwer poczty jest nieosiągalny
    [greeting] serwer poczty odpowiada nieprawidłowo
    [space] dysk jest pełny
    [disk] problem z dyskiem
    [write] nie można zapisywać plików
    [cpu] procesor jest przeciążony
    [memory] brakuje pamięci
    [thermal] urządzenie się przegrzewa
    [clock] zegar jest źle ustawiony
    [crash] program ulega awarii
    [battery] bateria jest zużyta
    [reboot] czeka ponowne uruchomienie
    [service] usługa nie działa
   *[other] sprawdzenie nie przechodzi
})

## incydenty

title-incident-dns = Nazwa { $name } nie daje się rozwiązać na { $count ->
    [one] { $count } urządzeniu
   *[other] { $count } urządzeniach
}{ $scope_kind ->
    [site] { " " }w lokalizacji { $scope }
    [gateway] { " " }za bramą { $scope }
    [network] { " " }w sieci { $scope }
    [dns] { " " }z serwerem DNS { $scope }
    [app] { " " }z wersją { $scope }
    [in] { " " }w { $scope }
   *[other] { "" }
}
title-incident-reach = Host { $target } jest nieosiągalny na { $count ->
    [one] { $count } urządzeniu
   *[other] { $count } urządzeniach
}{ $scope_kind ->
    [site] { " " }w lokalizacji { $scope }
    [gateway] { " " }za bramą { $scope }
    [network] { " " }w sieci { $scope }
    [dns] { " " }z serwerem DNS { $scope }
    [app] { " " }z wersją { $scope }
    [in] { " " }w { $scope }
   *[other] { "" }
}
title-incident-cert = Certyfikat { $target } wygasa: widać to na { $count ->
    [one] { $count } urządzeniu
   *[other] { $count } urządzeniach
}{ $scope_kind ->
    [site] { " " }w lokalizacji { $scope }
    [gateway] { " " }za bramą { $scope }
    [network] { " " }w sieci { $scope }
    [dns] { " " }z serwerem DNS { $scope }
    [app] { " " }z wersją { $scope }
    [in] { " " }w { $scope }
   *[other] { "" }
}
title-incident-gateway = Problemy z dostępem do bramy { $gateway } na { $count ->
    [one] { $count } urządzeniu
   *[other] { $count } urządzeniach
}{ $scope_kind ->
    [site] { " " }w lokalizacji { $scope }
    [gateway] { " " }za bramą { $scope }
    [network] { " " }w sieci { $scope }
    [dns] { " " }z serwerem DNS { $scope }
    [app] { " " }z wersją { $scope }
    [in] { " " }w { $scope }
   *[other] { "" }
}
title-incident-disk = Dysk { $disk } jest prawie pełny na { $count ->
    [one] { $count } urządzeniu
   *[other] { $count } urządzeniach
}{ $scope_kind ->
    [site] { " " }w lokalizacji { $scope }
    [gateway] { " " }za bramą { $scope }
    [network] { " " }w sieci { $scope }
    [dns] { " " }z serwerem DNS { $scope }
    [app] { " " }z wersją { $scope }
    [in] { " " }w { $scope }
   *[other] { "" }
}
title-incident-crash = Program { $app } ulega awarii na { $count ->
    [one] { $count } urządzeniu
   *[other] { $count } urządzeniach
}{ $scope_kind ->
    [site] { " " }w lokalizacji { $scope }
    [gateway] { " " }za bramą { $scope }
    [network] { " " }w sieci { $scope }
    [dns] { " " }z serwerem DNS { $scope }
    [app] { " " }z wersją { $scope }
    [in] { " " }w { $scope }
   *[other] { "" }
}
title-incident-service = Usługa { $service } nie działa na { $count ->
    [one] { $count } urządzeniu
   *[other] { $count } urządzeniach
}{ $scope_kind ->
    [site] { " " }w lokalizacji { $scope }
    [gateway] { " " }za bramą { $scope }
    [network] { " " }w sieci { $scope }
    [dns] { " " }z serwerem DNS { $scope }
    [app] { " " }z wersją { $scope }
    [in] { " " }w { $scope }
   *[other] { "" }
}
title-incident-check = Sprawdzenie { $check } nie przechodzi na { $count ->
    [one] { $count } urządzeniu
   *[other] { $count } urządzeniach
}{ $scope_kind ->
    [site] { " " }w lokalizacji { $scope }
    [gateway] { " " }za bramą { $scope }
    [network] { " " }w sieci { $scope }
    [dns] { " " }z serwerem DNS { $scope }
    [app] { " " }z wersją { $scope }
    [in] { " " }w { $scope }
   *[other] { "" }
}
