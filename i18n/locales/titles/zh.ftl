# Ticket titles, made from a finding's evidence by one function per check
# (collector/src/tickets/titles.rs), in words a technician would write. Ids start with
# `title-`; every message is in every language (a test says so).


## any check

title-summary = { $summary }
title-check-failing = 检查项 { $check } 未通过
title-check-failing-on = 检查项 { $check } 在 { $resource } 上未通过

## dns.resolve

title-dns-not-found = 无法解析 { $name }（DNS 服务器 { $server } 称该名称不存在）
title-dns-server-error = 无法解析 { $name }（DNS 服务器 { $server } 返回 { $code }）
title-dns-no-answer = 无法解析 { $name }（没有 DNS 服务器应答）
title-dns-unresolved = 无法解析 { $name }

## https.reachable, tcp.connect

title-reach-no-name = 无法访问 { $target }：其名称无法解析
title-reach-refused = { $target } 拒绝连接
title-reach-timeout = { $target } 无响应（连接超时）
title-reach-unreachable = 无法访问 { $target }
title-web-tls = { $target }：安全连接（TLS）失败
title-web-http-status = { $target } 返回错误（HTTP { $status }）
title-web-no-answer = { $target } 没有像网站那样应答
title-web-bad-address = { $target } 的网址无效

## https.cert_expiry_days

title-cert-expired = { $target } 的证书已过期 { $days } 天
title-cert-expires = { $target } 的证书将在 { $days } 天后过期
title-cert-expires-today = { $target } 的证书今天过期
title-cert-unreadable = 无法读取 { $target } 的证书

## disk, memory, cpu, thermal, battery, smart

title-disk-full = 磁盘 { $disk } 已用 { $pct }%
title-disk-inodes = 磁盘 { $disk } 的文件索引节点（inode）已用 { $pct }%
title-memory-low = 可用内存仅剩 { $pct }%
title-swap-full = 交换空间已用 { $pct }%
title-cpu-busy = 处理器占用 { $pct }%
title-cpu-busy-process = 处理器占用 { $pct }%，主要被 { $process } 占用
title-thermal-hot = { $sensor } 温度达到 { $celsius } °C
title-battery-worn = 电池 { $battery } 仅剩原始容量的 { $pct }%
title-smart-failing = 磁盘 { $disk } 即将损坏（SMART）：请备份并更换

## services, restarts, clock

title-service-missing = 服务 { $service } 未安装
title-service-failed = 服务 { $service } 已失败
title-service-stopped = 服务 { $service } 未运行
title-reboot-pending = 需要重启以完成更新安装
title-clock-behind = 时钟慢了 { $seconds } 秒
title-clock-ahead = 时钟快了 { $seconds } 秒
title-clock-behind-minutes = 时钟慢了 { $minutes } 分钟
title-clock-ahead-minutes = 时钟快了 { $minutes } 分钟

## network

title-gateway-missing = 没有默认网关：此设备无法访问其他网络
title-gateway-loss = 网关 { $gateway } 丢包率 { $pct }%
title-gateway-unmeasured = 无法测量到网关 { $gateway } 的丢包率
title-gateway-slow = 网关 { $gateway } 响应缓慢（{ $ms } 毫秒）
title-collector-unreachable = 无法连接收集器 { $target }
title-collector-slow = 连接收集器需要 { $ms } 毫秒

## crash and log watches

title-crash = { $app } 崩溃了 { $count } 次
title-crash-hours = { $app } 在过去 { $hours ->
    [one] 1 小时
   *[other] { $hours } 小时
}内崩溃了 { $count } 次
title-crash-minutes = { $app } 在过去 { $minutes } 分钟内崩溃了 { $count } 次
title-log = 有 { $count } 行日志匹配“{ $watch }”
title-log-hours = 过去 { $hours } 小时内有 { $count } 行日志匹配“{ $watch }”
title-log-minutes = 过去 { $minutes } 分钟内有 { $count } 行日志匹配“{ $watch }”

## the agent's own health

title-agent-outbox-evicted = 代理丢弃了 { $count } 条检测结果：其发件箱已满
title-agent-outbox-damaged = 代理的发件箱已损坏
title-agent-outbox-damaged-lost = 代理的发件箱已损坏：丢失了 { $lost } 条检测结果
title-agent-config-invalid = 代理拒绝了修改后的配置，继续使用之前的配置
title-agent-disk-full = 代理无法保存数据：磁盘已满
title-agent-state-unwritable = 代理无法写入其状态文件夹

## user reports

title-report = { $who } 报告：“{ $text }”
title-report-failing = { $who } 报告：“{ $text }”（{ $layer ->
    [link] 网络连接已断开
    [address] 没有网络地址
    [gateway] 网关无响应
    [dns] 名称无法解析
    [tcp] 服务器不接受连接
    [tls] 安全连接失败
    [http] 网站返回错误
    [url] 网址无效
    [printer] 无法连接打印机
    [queue] 打印任务卡住
    [mail] 无法连接邮件服务器
    [greeting] 邮件服务器应答异常
    [space] 磁盘已满
    [disk] 磁盘有问题
    [write] 无法保存文件
    [cpu] 处理器过载
    [memory] 内存不足
    [thermal] 设备过热
    [clock] 时钟不准
    [crash] 应用程序崩溃
    [battery] 电池老化
    [reboot] 等待重启
    [service] 有服务未运行
   *[other] 有检查项未通过
}）

## incidents

title-incident-dns = { $scope_kind ->
    [site] 站点 { $scope } 的{ " " }
    [gateway] 网关 { $scope } 后的{ " " }
    [network] 网络 { $scope } 中的{ " " }
    [dns] 使用 DNS 服务器 { $scope } 的{ " " }
    [app] 运行版本 { $scope } 的{ " " }
    [in] { $scope } 中的{ " " }
   *[other] { "" }
}{ $count } 台设备无法解析 { $name }
title-incident-reach = { $scope_kind ->
    [site] 站点 { $scope } 的{ " " }
    [gateway] 网关 { $scope } 后的{ " " }
    [network] 网络 { $scope } 中的{ " " }
    [dns] 使用 DNS 服务器 { $scope } 的{ " " }
    [app] 运行版本 { $scope } 的{ " " }
    [in] { $scope } 中的{ " " }
   *[other] { "" }
}{ $count } 台设备无法访问 { $target }
title-incident-cert = { $scope_kind ->
    [site] 站点 { $scope } 的{ " " }
    [gateway] 网关 { $scope } 后的{ " " }
    [network] 网络 { $scope } 中的{ " " }
    [dns] 使用 DNS 服务器 { $scope } 的{ " " }
    [app] 运行版本 { $scope } 的{ " " }
    [in] { $scope } 中的{ " " }
   *[other] { "" }
}{ $count } 台设备发现 { $target } 的证书即将过期
title-incident-gateway = { $scope_kind ->
    [site] 站点 { $scope } 的{ " " }
    [gateway] 网关 { $scope } 后的{ " " }
    [network] 网络 { $scope } 中的{ " " }
    [dns] 使用 DNS 服务器 { $scope } 的{ " " }
    [app] 运行版本 { $scope } 的{ " " }
    [in] { $scope } 中的{ " " }
   *[other] { "" }
}{ $count } 台设备连接网关 { $gateway } 有问题
title-incident-disk = { $scope_kind ->
    [site] 站点 { $scope } 的{ " " }
    [gateway] 网关 { $scope } 后的{ " " }
    [network] 网络 { $scope } 中的{ " " }
    [dns] 使用 DNS 服务器 { $scope } 的{ " " }
    [app] 运行版本 { $scope } 的{ " " }
    [in] { $scope } 中的{ " " }
   *[other] { "" }
}{ $count } 台设备的磁盘 { $disk } 快满了
title-incident-crash = { $app } 在{ $scope_kind ->
    [site] 站点 { $scope } 的{ " " }
    [gateway] 网关 { $scope } 后的{ " " }
    [network] 网络 { $scope } 中的{ " " }
    [dns] 使用 DNS 服务器 { $scope } 的{ " " }
    [app] 运行版本 { $scope } 的{ " " }
    [in] { $scope } 中的{ " " }
   *[other] { " " }
}{ $count } 台设备上崩溃
title-incident-service = 服务 { $service } 在{ $scope_kind ->
    [site] 站点 { $scope } 的{ " " }
    [gateway] 网关 { $scope } 后的{ " " }
    [network] 网络 { $scope } 中的{ " " }
    [dns] 使用 DNS 服务器 { $scope } 的{ " " }
    [app] 运行版本 { $scope } 的{ " " }
    [in] { $scope } 中的{ " " }
   *[other] { " " }
}{ $count } 台设备上未运行
title-incident-check = { $scope_kind ->
    [site] 站点 { $scope } 的{ " " }
    [gateway] 网关 { $scope } 后的{ " " }
    [network] 网络 { $scope } 中的{ " " }
    [dns] 使用 DNS 服务器 { $scope } 的{ " " }
    [app] 运行版本 { $scope } 的{ " " }
    [in] { $scope } 中的{ " " }
   *[other] { "" }
}{ $count } 台设备未通过检查项 { $check }
