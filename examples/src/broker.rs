//! The broker server: TCP listeners around one [`mqtt_broker_core::Broker`].
//!
//! One task owns the broker core and is the only one to touch it: no lock on the core,
//! nothing held across an await. Each connection has one task of its own that moves bytes
//! both ways: socket -> core through the core's command queue, core -> socket through the
//! connection's `Link`, which holds at most one buffer. The core task pulls a
//! connection's bytes only when its last buffer is written, so a slow reader at the other
//! end never stalls anyone else: its messages wait in its session queue, under the core's
//! limits.
//!
//! An idle connection costs little: its task holds no read buffer while it waits for the
//! socket to become readable (a buffer is allocated when bytes are there, and handed to the
//! core), it waits on the socket's readiness and on its link with no future of its own, and
//! the link is one small allocation.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use mqtt_broker_core::{Broker, CloseReason, Config, ConnectionHandle, Event};
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// How much a connection's task asks the socket for at a time: it starts small (an idle
/// connection's few packets need little) and doubles each time a read fills the buffer (a
/// busy one gets its bytes in fewer, larger reads). It does not shrink again: reads of
/// varying sizes would then split more packets across buffers, which costs copies.
const READ_MIN: usize = 1024;
const READ_MAX: usize = 16 * 1024;
/// How long a connection the core closed may take to write its last bytes (a DISCONNECT,
/// a refused CONNACK) before its socket is closed anyway: a client that stopped reading
/// must not hold its connection, task and `max_connections` slot forever.
const CLOSE_FLUSH: std::time::Duration = std::time::Duration::from_secs(2);
/// After the socket is shut down for writing, how long the task still reads (and drops)
/// what the client sends: closing a socket with unread bytes sends a reset, which can
/// destroy the last bytes written before they are delivered.
const CLOSE_LINGER: std::time::Duration = std::time::Duration::from_secs(1);
/// Commands queued for the core task; a full queue slows the readers down.
const CORE_QUEUE: usize = 1024;

/// What connection tasks tell the core task.
enum Command {
    Opened {
        addr: SocketAddr,
        link: Arc<Link>,
        reply: oneshot::Sender<Conn>,
    },
    Read(Conn, BytesMut),
    /// The socket is gone (end of stream or error).
    Closed(Conn),
    /// The connection's task finished writing its last buffer, and the core had asked to
    /// be told ([`LinkState::wants_written`]).
    Written(Conn),
    /// Stop: close every connection and return.
    Shutdown,
}

/// A connection as its tasks name it: the core's handle is reused once a connection is
/// gone, so a late message from an old connection's task (its `Closed` arriving after the
/// core closed it) must not reach the connection that took the slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Conn {
    handle: ConnectionHandle,
    serial: u64,
}

/// What the core task tells a connection's task to write.
#[derive(Debug)]
enum Write {
    Bytes(Bytes),
    /// Flush what was sent before, then close the socket.
    Close,
}

/// The core task's side of one connection's task: one write at a time and whether to stop
/// reading. A mailbox of one slot with the task's waker: a channel would cost each idle
/// connection a block of 32 slots, a `Notify` a waiting future in its task.
///
/// The core gives the next buffer only once the last one is written. It learns that from a
/// `Written` command only when it asked for one (it had more to send, or a close waiting):
/// most writes (a CONNACK, a PUBACK) leave nothing behind, and their round trip through
/// the core's queue would be wasted.
#[derive(Debug, Default)]
struct Link {
    state: Mutex<LinkState>,
}

#[derive(Debug, Default)]
struct LinkState {
    write: Option<Write>,
    /// A buffer is with the connection's task (set by the core, cleared by the task).
    writing: bool,
    /// The core wants a `Written` when the buffer is out (set by the core while `writing`).
    wants_written: bool,
    /// The client does not read its answers: do not read from it until it catches up.
    paused: bool,
    /// The connection's task, waiting for a change.
    waker: Option<Waker>,
}

/// What a connection's task does next.
enum Ready {
    Read,
    Write,
    Close,
}

impl Link {
    fn lock(&self) -> MutexGuard<'_, LinkState> {
        // Nothing panics while holding the lock; a poisoned one still holds valid state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, change: impl FnOnce(&mut LinkState)) {
        let waker = {
            let mut state = self.lock();
            change(&mut state);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn send(&self, write: Write) {
        self.update(|state| {
            state.writing |= matches!(write, Write::Bytes(_));
            state.write = Some(write);
        });
    }

    /// The core's check before it gives bytes: `true` while a buffer is still being
    /// written, in which case the task will report `Written` when it is.
    fn busy_writing(&self) -> bool {
        let mut state = self.lock();
        state.wants_written |= state.writing;
        state.writing
    }

    /// The task wrote its buffer out: whether the core asked to hear it.
    fn finish_write(&self) -> bool {
        let mut state = self.lock();
        state.writing = false;
        std::mem::take(&mut state.wants_written)
    }

    fn set_paused(&self, paused: bool) {
        self.update(|state| state.paused = paused);
    }

    fn is_paused(&self) -> bool {
        self.lock().paused
    }

    /// The connection task's wait: for a write or close from the core, for the socket to
    /// take the bytes in `out`, or (unless paused) for bytes to read. Writing comes first,
    /// so a client that never stops sending still gets its answers.
    fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        stream: &TcpStream,
        out: &mut Option<Bytes>,
    ) -> Poll<io::Result<Ready>> {
        let paused = {
            let mut state = self.lock();
            match state.write.take() {
                Some(Write::Bytes(bytes)) => *out = Some(bytes),
                Some(Write::Close) => return Poll::Ready(Ok(Ready::Close)),
                None => {}
            }
            // Registered before the lock is released: a change after this point wakes us.
            if !state
                .waker
                .as_ref()
                .is_some_and(|waker| waker.will_wake(cx.waker()))
            {
                state.waker = Some(cx.waker().clone());
            }
            state.paused
        };
        if out.is_some() {
            if let Poll::Ready(ready) = stream.poll_write_ready(cx) {
                return Poll::Ready(ready.map(|()| Ready::Write));
            }
        }
        if !paused {
            if let Poll::Ready(ready) = stream.poll_read_ready(cx) {
                return Poll::Ready(ready.map(|()| Ready::Read));
            }
        }
        Poll::Pending
    }
}

struct Peer {
    serial: u64,
    addr: SocketAddr,
    /// Known once CONNECT is accepted, for the logs.
    client_id: Option<mqtt_codec::MqttString>,
    link: Arc<Link>,
    /// Bytes read that do not make a whole packet yet.
    input: BytesMut,
}

/// What the adapter itself limits (the protocol's limits are in [`Config`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerOptions {
    /// Connections served at once; one more is closed as soon as it is accepted.
    pub max_connections: Option<usize>,
}

/// Connections the OS queues for the accept loop: a burst of clients connecting at once
/// (a home-automation hub restarting, a load test) must not overflow it, or their SYNs are
/// dropped and retried a second later. std's and tokio's `bind` use 128.
pub const LISTEN_BACKLOG: u32 = 1024;

/// A TCP listener on `addr` with [`LISTEN_BACKLOG`] (and `SO_REUSEADDR`, as `bind` sets it,
/// so a restarted broker gets its port back at once).
pub fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves MQTT on `listener` until `shutdown` completes, then closes every connection
/// (v5 clients get DISCONNECT 0x8B, wills are published) and returns.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_all(vec![listener], config, ServerOptions::default(), shutdown).await
}

/// [`serve`] on several listeners, with the adapter's own limits.
pub async fn serve_all(
    listeners: Vec<TcpListener>,
    config: Config,
    options: ServerOptions,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let (commands, inbox) = mpsc::channel(CORE_QUEUE);
    let core = tokio::spawn(run_core(
        Broker::new(config, Instant::now()),
        inbox,
        options,
    ));
    let accepting: Vec<_> = listeners
        .into_iter()
        .map(|listener| tokio::spawn(accept_loop(listener, commands.clone())))
        .collect();
    shutdown.await;
    for task in &accepting {
        task.abort();
    }
    tracing::info!("shutting down");
    let _ = commands.send(Command::Shutdown).await;
    core.await.map_err(std::io::Error::other)?;
    Ok(())
}

async fn accept_loop(listener: TcpListener, commands: mpsc::Sender<Command>) {
    loop {
        match listener.accept().await {
            Ok((stream, addr)) => {
                if register(stream, addr, &commands).await.is_err() {
                    return;
                }
            }
            Err(err) => {
                tracing::warn!("accept failed: {err}");
                // Out of file descriptors and the like: do not spin.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// Registers a new connection with the core and starts its task, which learns its name
/// from the core's answer. The accept loop goes on at once: it waits only while the core's
/// queue is full, which slows accepting down under load.
async fn register(
    stream: TcpStream,
    addr: SocketAddr,
    commands: &mpsc::Sender<Command>,
) -> Result<(), CoreGone> {
    let _ = stream.set_nodelay(true);
    let link = Arc::new(Link::default());
    let (reply, answer) = oneshot::channel();
    let opened = Command::Opened {
        addr,
        link: link.clone(),
        reply,
    };
    to_core(commands, opened).await?;
    tokio::spawn(serve_connection(answer, stream, link, commands.clone()));
    Ok(())
}

/// The connection's loop: writes what the core gives, one buffer at a time, and reads
/// while not paused, until the core closes the connection (`Write::Close`, also how it
/// refuses one beyond `max_connections`) or the socket ends (the core is told).
///
/// The core's answer (the connection's name in commands) is awaited only before the
/// first command: by the time the client's CONNECT is read it is usually there, and the
/// task is woken once, for the CONNECT, not once more for the answer.
async fn serve_connection(
    answer: oneshot::Receiver<Conn>,
    mut stream: TcpStream,
    link: Arc<Link>,
    commands: mpsc::Sender<Command>,
) {
    let mut answer = Some(answer);
    let mut name = None;
    let mut out: Option<Bytes> = None;
    let mut read_size = READ_MIN;
    let lost = loop {
        let Ok(ready) = std::future::poll_fn(|cx| link.poll_ready(cx, &stream, &mut out)).await
        else {
            break true;
        };
        let command = match ready {
            Ready::Close => {
                // The core sends `Close` once the last buffer was written, or when
                // `CLOSE_FLUSH` passed (then the rest of `out` is dropped).
                Box::pin(close_gracefully(&mut stream)).await;
                break false;
            }
            Ready::Write => {
                let bytes = out
                    .as_mut()
                    .expect("write readiness is polled only with bytes");
                match stream.try_write(bytes) {
                    Ok(0) => break true,
                    Ok(n) => bytes.advance(n),
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => break true,
                }
                if !bytes.is_empty() {
                    continue;
                }
                out = None;
                if !link.finish_write() {
                    continue;
                }
                let Some(conn) = named(&mut name, &mut answer).await else {
                    break false;
                };
                Command::Written(conn)
            }
            Ready::Read => {
                let mut buf = BytesMut::with_capacity(read_size);
                match read_draining(&stream, &mut buf) {
                    Ok(0) => break true,
                    Ok(n) => {
                        if n == read_size {
                            read_size = (read_size * 2).min(READ_MAX);
                        }
                        let Some(conn) = named(&mut name, &mut answer).await else {
                            break false;
                        };
                        Command::Read(conn, buf)
                    }
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(_) => break true,
                }
            }
        };
        // A full queue slows this connection down until the core catches up.
        if to_core(&commands, command).await.is_err() {
            // The core task is gone (shutdown).
            break false;
        }
    };
    if lost {
        if let Some(conn) = named(&mut name, &mut answer).await {
            let _ = to_core(&commands, Command::Closed(conn)).await;
        }
    }
}

/// Reads once into `buf`'s spare capacity. A read that does not fill it emptied the
/// socket's queue: the runtime is told so (its read readiness cleared) without the extra
/// read that would fail with `WouldBlock`. Race-free: the readiness cleared is the one seen
/// before this read, so bytes arriving meanwhile still wake the task.
fn read_draining(stream: &TcpStream, buf: &mut BytesMut) -> io::Result<usize> {
    let spare = buf.capacity() - buf.len();
    let mut read = 0;
    let result = stream.try_io(Interest::READABLE, || {
        read = stream.try_read_buf(buf)?;
        if read > 0 && read < spare {
            Err(io::ErrorKind::WouldBlock.into())
        } else {
            Ok(read)
        }
    });
    match result {
        Err(err) if err.kind() == io::ErrorKind::WouldBlock && read > 0 => Ok(read),
        other => other,
    }
}

/// The connection's name: from the core's answer the first time, `None` if the core never
/// registered it (it is shutting down).
async fn named(
    name: &mut Option<Conn>,
    answer: &mut Option<oneshot::Receiver<Conn>>,
) -> Option<Conn> {
    if let Some(answer) = answer.take() {
        *name = answer.await.ok();
    }
    *name
}

/// Shuts the socket down for writing (the client reads an end of stream after our last
/// bytes), then reads and drops what the client still sends until it closes its side or
/// [`CLOSE_LINGER`] passes. Boxed by the caller: rare, and it would size every task.
async fn close_gracefully(stream: &mut TcpStream) {
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 512];
    let _ = tokio::time::timeout(CLOSE_LINGER, async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// Queues `command` for the core task; waits only while its queue is full. The wait is
/// boxed: kept inline, it would make every connection's task larger for a path taken only
/// under backpressure.
async fn to_core(commands: &mpsc::Sender<Command>, command: Command) -> Result<(), CoreGone> {
    match commands.try_send(command) {
        Ok(()) => Ok(()),
        Err(mpsc::error::TrySendError::Full(command)) => {
            Box::pin(commands.send(command)).await.map_err(|_| CoreGone)
        }
        Err(mpsc::error::TrySendError::Closed(_)) => Err(CoreGone),
    }
}

/// The core task has stopped (shutdown).
#[derive(Debug)]
struct CoreGone;

/// The connections the core task serves, by the index of their core handle (the core
/// reuses the indices of closed connections, so the table stays as dense as its own).
#[derive(Default)]
struct Peers {
    slots: Vec<Option<Peer>>,
    count: usize,
    /// Connections the core decided to close, by serial, until their last bytes are
    /// written or [`CLOSE_FLUSH`] has passed: the only ones `drain` has to look at.
    closing: Vec<(Conn, Instant)>,
}

impl Peers {
    fn get_mut(&mut self, handle: ConnectionHandle) -> Option<&mut Peer> {
        self.slots.get_mut(handle.index())?.as_mut()
    }

    fn insert(&mut self, handle: ConnectionHandle, peer: Peer) {
        let index = handle.index();
        if index >= self.slots.len() {
            self.slots.resize_with(index + 1, || None);
        }
        debug_assert!(
            self.slots[index].is_none(),
            "the core reuses only freed handles"
        );
        if self.slots[index].replace(peer).is_none() {
            self.count += 1;
        }
    }

    fn remove(&mut self, handle: ConnectionHandle) -> Option<Peer> {
        let peer = self.slots.get_mut(handle.index())?.take();
        if peer.is_some() {
            self.count -= 1;
        }
        peer
    }

    fn len(&self) -> usize {
        self.count
    }

    /// Tells every connection's task to close its socket, and forgets them.
    fn close_all(&mut self) {
        for peer in self.slots.iter_mut().filter_map(Option::take) {
            peer.link.send(Write::Close);
        }
        self.count = 0;
        self.closing.clear();
    }
}

/// The peer a connection task's message is about, if that connection is still the one in
/// the slot.
fn live(peers: &mut Peers, conn: Conn) -> Option<&mut Peer> {
    peers
        .get_mut(conn.handle)
        .filter(|peer| peer.serial == conn.serial)
}

/// A connection's task reports its socket gone: the core forgets the connection, unless
/// its slot now holds a newer one. Returns the peer it was.
fn connection_lost(
    broker: &mut Broker,
    peers: &mut Peers,
    now: Instant,
    conn: Conn,
) -> Option<Peer> {
    live(peers, conn)?;
    let peer = peers.remove(conn.handle)?;
    broker.handle_closed(now, conn.handle);
    Some(peer)
}

/// A connection's task wrote its buffer out, and the core had asked to hear it.
fn written(broker: &mut Broker, peers: &mut Peers, now: Instant, conn: Conn) {
    if let Some(peer) = live(peers, conn) {
        send_next(broker, now, conn.handle, peer);
    }
}

/// The core task: the only owner of the broker.
async fn run_core(mut broker: Broker, mut inbox: mpsc::Receiver<Command>, options: ServerOptions) {
    let mut peers = Peers::default();
    let mut serials = 0u64;
    loop {
        // The core's next timer, or a closing connection's flush deadline.
        let deadline = peers
            .closing
            .iter()
            .map(|&(_, flush_by)| flush_by)
            .chain(broker.poll_timeout())
            .min();
        let command = tokio::select! {
            command = inbox.recv() => command,
            () = sleep_until(deadline) => {
                broker.handle_timeout(Instant::now());
                drain(&mut broker, &mut peers);
                continue;
            }
        };
        let Some(command) = command else {
            return;
        };
        let now = Instant::now();
        match command {
            Command::Opened { addr, link, reply } => {
                if options
                    .max_connections
                    .is_some_and(|max| peers.len() >= max)
                {
                    // Refused: the connection's task closes the socket, without a name.
                    tracing::warn!(%addr, "connection refused: max_connections reached");
                    link.send(Write::Close);
                    continue;
                }
                let handle = broker.handle_connection_opened(now);
                serials += 1;
                peers.insert(
                    handle,
                    Peer {
                        serial: serials,
                        addr,
                        client_id: None,
                        link,
                        input: BytesMut::new(),
                    },
                );
                tracing::debug!(%addr, "connection opened");
                let _ = reply.send(Conn {
                    handle,
                    serial: serials,
                });
            }
            Command::Read(conn, bytes) => {
                let handle = conn.handle;
                if let Some(peer) = live(&mut peers, conn) {
                    if peer.input.is_empty() {
                        peer.input = bytes;
                    } else {
                        peer.input.extend_from_slice(&bytes);
                    }
                    broker.handle_read(now, handle, &mut peer.input);
                    if peer.input.is_empty() {
                        // Packets decoded from the buffer keep what they slice of it; the
                        // rest goes back to the allocator instead of waiting for the
                        // connection's next read.
                        peer.input = BytesMut::new();
                    }
                    if !broker.wants_read(handle) {
                        peer.link.set_paused(true);
                    }
                }
            }
            Command::Closed(conn) => {
                if let Some(peer) = connection_lost(&mut broker, &mut peers, now, conn) {
                    tracing::info!(
                        addr = %peer.addr,
                        client_id = ?peer.client_id,
                        "connection lost"
                    );
                }
            }
            Command::Written(conn) => written(&mut broker, &mut peers, now, conn),
            Command::Shutdown => {
                broker.shutdown(now);
                drain(&mut broker, &mut peers);
                return finish_writes(&mut broker, &mut peers, &mut inbox).await;
            }
        }
        drain(&mut broker, &mut peers);
    }
}

/// After the shutdown: lets the writers send the last bytes (DISCONNECTs) for up to two
/// seconds.
async fn finish_writes(
    broker: &mut Broker,
    peers: &mut Peers,
    inbox: &mut mpsc::Receiver<Command>,
) {
    let until = tokio::time::Instant::now() + CLOSE_FLUSH;
    while peers.len() > 0 {
        let command = tokio::select! {
            command = inbox.recv() => command,
            () = tokio::time::sleep_until(until) => {
                // Whoever could not take their last bytes in time is closed without them.
                peers.close_all();
                return;
            }
        };
        let now = Instant::now();
        match command {
            Some(Command::Written(conn)) => written(broker, peers, now, conn),
            Some(Command::Closed(conn)) => {
                connection_lost(broker, peers, now, conn);
            }
            // Too late to be served.
            Some(Command::Opened { link, .. }) => link.send(Write::Close),
            Some(_) => {}
            None => return,
        }
        drain(broker, peers);
    }
}

/// Handles every broker output (the sans-IO rule: drain after each input).
fn drain(broker: &mut Broker, peers: &mut Peers) {
    let now = Instant::now();
    while let Some(event) = broker.poll_event() {
        match event {
            Event::Transmit(handle) => {
                if let Some(peer) = peers.get_mut(handle) {
                    send_next(broker, now, handle, peer);
                }
            }
            Event::Close { connection, reason } => {
                if let Some(peer) = peers.get_mut(connection) {
                    log_close(peer.addr, peer.client_id.as_ref(), reason);
                    send_next(broker, now, connection, peer);
                    let serial = peer.serial;
                    let conn = Conn {
                        handle: connection,
                        serial,
                    };
                    peers.closing.push((conn, now + CLOSE_FLUSH));
                }
            }
            Event::Connected {
                connection,
                client_id,
                session_present,
            } => {
                if let Some(peer) = peers.get_mut(connection) {
                    tracing::info!(addr = %peer.addr, %client_id, session_present, "client connected");
                    peer.client_id = Some(client_id);
                }
            }
            // No durable store yet: records are not kept.
            Event::Persist { seq, .. } => broker.handle_stored(seq),
            _ => {}
        }
    }
    // Connections closing with nothing left to write are done.
    let mut closing = std::mem::take(&mut peers.closing);
    closing.retain(|&(conn, flush_by)| {
        match live(peers, conn) {
            Some(peer) if now < flush_by && peer.link.busy_writing() => return true,
            Some(_) => {}
            None => return false,
        }
        if let Some(peer) = peers.remove(conn.handle) {
            peer.link.send(Write::Close);
            broker.handle_closed(now, conn.handle);
        }
        false
    });
    peers.closing = closing;
}

/// Gives the connection's task its next bytes, if it is idle (else it reports `Written`
/// when it is).
fn send_next(broker: &mut Broker, now: Instant, handle: ConnectionHandle, peer: &mut Peer) {
    if peer.link.busy_writing() {
        return;
    }
    if let Some(bytes) = broker.poll_transmit(now, handle) {
        peer.link.send(Write::Bytes(bytes));
    }
    if peer.link.is_paused() && broker.wants_read(handle) {
        peer.link.set_paused(false);
    }
}

fn log_close(addr: SocketAddr, client_id: Option<&mqtt_codec::MqttString>, reason: CloseReason) {
    match reason {
        CloseReason::ClientDisconnected => {
            tracing::info!(%addr, ?client_id, "client disconnected");
        }
        CloseReason::ConnectRefused(code) => {
            tracing::warn!(%addr, ?code, "connection refused");
        }
        other => tracing::info!(%addr, ?client_id, reason = ?other, "closing connection"),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(packet: mqtt_codec::Packet) -> BytesMut {
        let mut out = BytesMut::new();
        packet
            .encode(mqtt_codec::ProtocolVersion::V3_1_1, &mut out)
            .unwrap();
        out
    }

    async fn open(commands: &mpsc::Sender<Command>) -> (Conn, Arc<Link>) {
        let link = Arc::new(Link::default());
        let (reply, conn) = oneshot::channel();
        commands
            .send(Command::Opened {
                addr: "127.0.0.1:1".parse().unwrap(),
                link: link.clone(),
                reply,
            })
            .await
            .unwrap();
        (conn.await.unwrap(), link)
    }

    /// What the connection's task does once its buffer is out.
    async fn written(commands: &mpsc::Sender<Command>, conn: Conn, link: &Link) {
        if link.finish_write() {
            commands.send(Command::Written(conn)).await.unwrap();
        }
    }

    /// The next write the core gives the connection's task.
    async fn next_write(link: &Link) -> Write {
        std::future::poll_fn(|cx| {
            let mut state = link.lock();
            match state.write.take() {
                Some(write) => Poll::Ready(write),
                None => {
                    state.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// The race seen in CI: a connection the broker closed has its reader report the close
    /// only after a new connection took the same slot. The late report must not close the
    /// new connection.
    #[tokio::test]
    async fn a_late_close_of_an_old_connection_spares_the_one_in_its_slot() {
        let (commands, inbox) = mpsc::channel(16);
        let mut config = Config::default();
        config.sys_interval = None;
        let core = tokio::spawn(run_core(
            Broker::new(config, Instant::now()),
            inbox,
            ServerOptions::default(),
        ));
        let connect = |id: &'static str| {
            let mut connect = mqtt_codec::Connect::new(
                mqtt_codec::ProtocolVersion::V3_1_1,
                mqtt_codec::MqttString::from_static(id),
            );
            connect.keep_alive = 0;
            encode(mqtt_codec::Packet::Connect(Box::new(connect)))
        };
        // The first connection connects and disconnects: the broker frees its slot.
        let (old, old_link) = open(&commands).await;
        let mut bytes = connect("old");
        bytes.extend_from_slice(&encode(mqtt_codec::Packet::Disconnect(Default::default())));
        commands.send(Command::Read(old, bytes)).await.unwrap();
        assert!(
            matches!(next_write(&old_link).await, Write::Bytes(_)),
            "CONNACK"
        );
        written(&commands, old, &old_link).await;
        assert!(matches!(next_write(&old_link).await, Write::Close));
        // A new connection takes the slot; only then does the old reader report the close.
        let (new, new_link) = open(&commands).await;
        assert_eq!(new.handle, old.handle, "the slot is reused");
        commands.send(Command::Closed(old)).await.unwrap();
        commands
            .send(Command::Read(new, connect("new")))
            .await
            .unwrap();
        assert!(
            matches!(next_write(&new_link).await, Write::Bytes(_)),
            "CONNACK"
        );
        written(&commands, new, &new_link).await;
        commands
            .send(Command::Read(new, encode(mqtt_codec::Packet::PingReq)))
            .await
            .unwrap();
        match next_write(&new_link).await {
            Write::Bytes(bytes) => assert_eq!(&bytes[..], &[0xD0, 0x00], "PINGRESP"),
            _ => panic!("the new connection was closed by the old one's late report"),
        }
        commands.send(Command::Shutdown).await.unwrap();
        core.await.unwrap();
    }
}
