//! Connection hygiene for both listeners: caps on connections at once in total and per
//! address, and deadlines so a connection that does nothing gives its slot back — on the
//! agent port a first request (enroll or stream) soon after accepting, on the HTTP port an
//! idle deadline and a lifetime. Every refusal is logged (at most once per few seconds, with
//! counts) and counted in `/metrics`.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;

use crate::metrics::Metrics;

/// Refusals are logged at most this often per listener (the counts in between go with it).
const LOG_EVERY: Duration = Duration::from_secs(5);

/// Why a connection was refused or closed: a fixed set, fit for a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many connections at once in total.
    Total,
    /// Too many connections at once from one address.
    PerAddress,
    /// Accepted, but no request came in time.
    NoRequest,
    /// Nothing either way for too long.
    Idle,
    /// Open longer than any connection may be.
    Lifetime,
}

impl Refusal {
    pub const ALL: [Refusal; 5] = [
        Refusal::Total,
        Refusal::PerAddress,
        Refusal::NoRequest,
        Refusal::Idle,
        Refusal::Lifetime,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Total => "total_cap",
            Refusal::PerAddress => "per_address_cap",
            Refusal::NoRequest => "no_request",
            Refusal::Idle => "idle",
            Refusal::Lifetime => "lifetime",
        }
    }
}

/// What one listener allows.
#[derive(Debug, Clone)]
pub struct GateLimits {
    pub total: usize,
    pub per_address: usize,
    /// Peers the per-address cap does not apply to (trusted reverse proxies, through which
    /// everyone comes).
    pub exempt: Vec<crate::net::IpNetwork>,
    /// Close a connection that has not started a request this long after it was accepted.
    pub first_request_within: Option<Duration>,
    /// Close a connection with no bytes either way for this long.
    pub idle: Option<Duration>,
    /// Close any connection this long after it was accepted.
    pub lifetime: Option<Duration>,
}

/// The admission state of one listener. Shared by its accept loop, its connections (which
/// give their slot back when dropped) and, on the agent port, the services that mark a
/// connection as having made a request.
#[derive(Debug)]
pub struct Gate {
    listener: &'static str,
    limits: GateLimits,
    metrics: Arc<Metrics>,
    state: Mutex<GateState>,
}

#[derive(Debug, Default)]
struct GateState {
    total: usize,
    /// By [`address_group`].
    per_address: HashMap<IpAddr, usize>,
    next_connection: u64,
    /// Connections not yet known to have made a request: by peer address, with the
    /// connection's own number (a peer address can come back before its old connection ends).
    awaiting_request: HashMap<SocketAddr, (u64, Arc<AtomicBool>)>,
    refused_since_log: [u64; 5],
    last_log: Option<Instant>,
}

impl Gate {
    pub fn new(listener: &'static str, limits: GateLimits, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            listener,
            limits,
            metrics,
            state: Mutex::new(GateState::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        // Counters only: a panic elsewhere cannot leave them half-updated.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Connections open now through this gate.
    pub fn open(&self) -> usize {
        self.lock().total
    }

    /// Admits `stream` from `peer`, or drops it (closing it) and counts why.
    pub fn admit(self: &Arc<Self>, stream: TcpStream, peer: SocketAddr) -> Option<GuardedStream> {
        let local = stream.local_addr().ok();
        let requested = Arc::new(AtomicBool::new(self.limits.first_request_within.is_none()));
        let group = address_group(peer.ip());
        let exempt = self.limits.exempt.iter().any(|net| net.contains(peer.ip()));
        let connection;
        {
            let mut state = self.lock();
            let from_peer = state.per_address.get(&group).copied().unwrap_or(0);
            let refusal = if state.total >= self.limits.total {
                Some(Refusal::Total)
            } else if from_peer >= self.limits.per_address && !exempt {
                Some(Refusal::PerAddress)
            } else {
                None
            };
            if let Some(refusal) = refusal {
                drop(state);
                self.refused(refusal, peer);
                return None;
            }
            state.total += 1;
            *state.per_address.entry(group).or_insert(0) += 1;
            state.next_connection += 1;
            connection = state.next_connection;
            if self.limits.first_request_within.is_some() {
                state
                    .awaiting_request
                    .insert(peer, (connection, requested.clone()));
            }
        }
        self.metrics.connection_opened(self.listener);
        let deadline =
            |limit: Option<Duration>| limit.map(|limit| Box::pin(tokio::time::sleep(limit)));
        Some(GuardedStream {
            inner: stream,
            peer,
            connection,
            local,
            gate: self.clone(),
            requested,
            first_request: deadline(self.limits.first_request_within),
            idle: deadline(self.limits.idle),
            lifetime: deadline(self.limits.lifetime),
        })
    }

    /// The connection from `peer` made a request that proved who it is (an authenticated
    /// stream, a successful enrollment): it keeps its slot for as long as it lives. A stranger's
    /// refused request does not count, so strangers cannot hold slots.
    pub fn request_started(&self, peer: Option<SocketAddr>) {
        if let Some(peer) = peer
            && let Some((_, flag)) = self.lock().awaiting_request.remove(&peer)
        {
            flag.store(true, Ordering::Relaxed);
        }
    }

    fn release(&self, peer: SocketAddr, connection: u64) {
        let mut state = self.lock();
        state.total = state.total.saturating_sub(1);
        let group = address_group(peer.ip());
        if let Some(count) = state.per_address.get_mut(&group) {
            *count -= 1;
            if *count == 0 {
                state.per_address.remove(&group);
            }
        }
        if state
            .awaiting_request
            .get(&peer)
            .is_some_and(|(waiting, _)| *waiting == connection)
        {
            state.awaiting_request.remove(&peer);
        }
        drop(state);
        self.metrics.connection_closed(self.listener);
    }

    fn refused(&self, refusal: Refusal, peer: SocketAddr) {
        self.metrics.connection_refused(self.listener, refusal);
        let mut state = self.lock();
        let index = Refusal::ALL
            .iter()
            .position(|known| *known == refusal)
            .unwrap_or(0);
        state.refused_since_log[index] += 1;
        let due = state
            .last_log
            .is_none_or(|last| last.elapsed() >= LOG_EVERY);
        if !due {
            return;
        }
        let counts: Vec<String> = Refusal::ALL
            .iter()
            .zip(state.refused_since_log)
            .filter(|(_, count)| *count > 0)
            .map(|(refusal, count)| format!("{}={count}", refusal.as_str()))
            .collect();
        state.refused_since_log = [0; 5];
        state.last_log = Some(Instant::now());
        let open = state.total;
        drop(state);
        tracing::warn!(
            listener = self.listener,
            last_peer = %peer,
            refused = %counts.join(" "),
            open,
            total_cap = self.limits.total,
            per_address_cap = self.limits.per_address,
            "connections refused or closed by the connection limits ([limits])"
        );
    }
}

/// What the per-address cap counts as one address: an IPv4 address (IPv4-mapped IPv6 included),
/// or an IPv6 /64 (what one host or home is usually given, so one holder of a /64 cannot be
/// 2^64 addresses).
fn address_group(address: IpAddr) -> IpAddr {
    match crate::net::canonical(address) {
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        v4 => v4,
    }
}

/// Accepts connections from `listener` for as long as it lives, admitting them through
/// `gate`. An accept error (out of descriptors, say) is logged and retried after a pause
/// rather than ending the server.
pub async fn accept(listener: &TcpListener, gate: &Arc<Gate>) -> (GuardedStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                if let Some(guarded) = gate.admit(stream, peer) {
                    return (guarded, peer);
                }
            }
            Err(error) => {
                tracing::warn!(listener = gate.listener, error = %error, "accepting a connection failed; retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// A TCP connection admitted by a [`Gate`]: gives its slot back when dropped, and fails its
/// next read once one of its deadlines passes (which ends the connection).
#[derive(Debug)]
pub struct GuardedStream {
    inner: TcpStream,
    peer: SocketAddr,
    connection: u64,
    local: Option<SocketAddr>,
    gate: Arc<Gate>,
    requested: Arc<AtomicBool>,
    first_request: Option<Pin<Box<Sleep>>>,
    idle: Option<Pin<Box<Sleep>>>,
    lifetime: Option<Pin<Box<Sleep>>>,
}

impl GuardedStream {
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.set_nodelay(nodelay)
    }

    /// The deadline that passed, if one did (registering the waker for the others).
    fn expired(&mut self, cx: &mut Context<'_>) -> Option<Refusal> {
        if self.first_request.is_some() && self.requested.load(Ordering::Relaxed) {
            self.first_request = None;
        }
        let checks = [
            (&mut self.first_request, Refusal::NoRequest),
            (&mut self.idle, Refusal::Idle),
            (&mut self.lifetime, Refusal::Lifetime),
        ];
        for (deadline, refusal) in checks {
            if let Some(sleep) = deadline
                && sleep.as_mut().poll(cx).is_ready()
            {
                return Some(refusal);
            }
        }
        None
    }

    fn touched(&mut self) {
        if let (Some(sleep), Some(idle)) = (&mut self.idle, self.gate.limits.idle) {
            sleep.as_mut().reset(tokio::time::Instant::now() + idle);
        }
    }

    fn close_for(&mut self, refusal: Refusal) -> io::Error {
        // Count once: the deadline is cleared so later polls do not count it again.
        match refusal {
            Refusal::NoRequest => self.first_request = None,
            Refusal::Idle => self.idle = None,
            Refusal::Lifetime => self.lifetime = None,
            Refusal::Total | Refusal::PerAddress => {}
        }
        self.gate.refused(refusal, self.peer);
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("connection closed by the limits: {}", refusal.as_str()),
        )
    }
}

impl Drop for GuardedStream {
    fn drop(&mut self) {
        self.gate.release(self.peer, self.connection);
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(refusal) = this.expired(cx) {
            return Poll::Ready(Err(this.close_for(refusal)));
        }
        let before = buf.filled().len();
        let outcome = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(outcome, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.touched();
        }
        outcome
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // A peer that stops reading leaves our writes pending: the deadlines hold there too.
        if let Some(refusal) = this.expired(cx) {
            return Poll::Ready(Err(this.close_for(refusal)));
        }
        let outcome = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(outcome, Poll::Ready(Ok(written)) if written > 0) {
            this.touched();
        }
        outcome
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(refusal) = this.expired(cx) {
            return Poll::Ready(Err(this.close_for(refusal)));
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(refusal) = this.expired(cx) {
            return Poll::Ready(Err(this.close_for(refusal)));
        }
        let outcome = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(outcome, Poll::Ready(Ok(written)) if written > 0) {
            this.touched();
        }
        outcome
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// tonic reads the peer's address (and, over TLS, its certificate) from this.
impl tonic::transport::server::Connected for GuardedStream {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        tonic::transport::server::TcpConnectInfo {
            local_addr: self.local,
            remote_addr: Some(self.peer),
        }
    }
}

/// The HTTP listener, for `axum::serve`.
#[derive(Debug)]
pub struct GatedListener {
    pub listener: TcpListener,
    pub gate: Arc<Gate>,
}

impl axum::serve::Listener for GatedListener {
    type Io = GuardedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        accept(&self.listener, &self.gate).await
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(total: usize, per_address: usize, first_request: Option<Duration>) -> Arc<Gate> {
        Gate::new(
            "test",
            GateLimits {
                total,
                per_address,
                exempt: Vec::new(),
                first_request_within: first_request,
                idle: None,
                lifetime: None,
            },
            Metrics::new(Vec::new(), None),
        )
    }

    async fn connect(listener: &TcpListener, from: &str) -> (TcpStream, TcpStream, SocketAddr) {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(format!("{from}:0").parse().expect("address"))
            .expect("bind");
        let client = socket
            .connect(listener.local_addr().expect("address"))
            .await
            .expect("connect");
        let (server, peer) = listener.accept().await.expect("accept");
        (client, server, peer)
    }

    #[tokio::test]
    async fn caps_count_per_address_and_in_total_and_slots_come_back_when_dropped() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let gate = gate(3, 2, None);
        let mut held = Vec::new();
        let mut admitted = Vec::new();
        for from in [
            "127.0.0.2",
            "127.0.0.2",
            "127.0.0.2",
            "127.0.0.3",
            "127.0.0.4",
        ] {
            let (client, server, peer) = connect(&listener, from).await;
            held.push(client);
            admitted.push(gate.admit(server, peer));
        }
        assert_eq!(gate.open(), 3);
        let peers: Vec<String> = admitted
            .iter()
            .map(|stream| {
                stream
                    .as_ref()
                    .map_or("-".to_owned(), |s| s.peer().ip().to_string())
            })
            .collect();
        let admitted_peers: Vec<Option<&str>> = peers
            .iter()
            .map(|peer| (peer != "-").then_some(peer.as_str()))
            .collect();
        drop(admitted);
        let admitted = admitted_peers;
        assert_eq!(
            admitted,
            [
                Some("127.0.0.2"),
                Some("127.0.0.2"),
                None, // a third from one address
                Some("127.0.0.3"),
                None, // a fourth in all
            ]
        );
        assert_eq!(gate.open(), 0, "the admitted streams were dropped again");
    }

    #[tokio::test]
    async fn a_connection_that_makes_no_request_in_time_is_closed_and_one_that_does_is_kept() {
        use tokio::io::AsyncReadExt;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let gate = gate(10, 10, Some(Duration::from_millis(200)));
        let (_idle_client, server, peer) = connect(&listener, "127.0.0.2").await;
        let mut idle = gate.admit(server, peer).expect("admitted");
        let (_busy_client, server, peer) = connect(&listener, "127.0.0.3").await;
        let mut busy = gate.admit(server, peer).expect("admitted");
        gate.request_started(Some(peer));
        let mut buffer = [0u8; 8];
        let closed = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buffer))
            .await
            .expect("the idle connection is closed in time");
        assert_eq!(closed.expect_err("closed").kind(), io::ErrorKind::TimedOut);
        let kept = tokio::time::timeout(Duration::from_millis(500), busy.read(&mut buffer)).await;
        assert!(
            kept.is_err(),
            "the busy connection is still waiting for data"
        );
    }
}
