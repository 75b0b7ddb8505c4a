//! The broker server: TCP listeners around one [`mqtt_broker_core::Broker`].
//!
//! One task owns the broker core and is the only one to touch it: no lock, nothing held
//! across an await. Each connection has a reader task (socket -> core) and a writer task
//! (core -> socket). The core task pulls a connection's bytes only when its writer is idle,
//! so a slow reader at the other end never stalls anyone else: its messages wait in its
//! session queue, under the core's limits.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use mqtt_broker_core::{Broker, CloseReason, Config, ConnectionHandle, Event};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

/// How much a reader asks the socket for at a time.
const READ_CHUNK: usize = 16 * 1024;
/// Commands queued for the core task; a full queue slows the readers down.
const CORE_QUEUE: usize = 1024;

/// What connection tasks tell the core task.
enum Command {
    Opened {
        addr: SocketAddr,
        writer: mpsc::Sender<Write>,
        /// Tells the reader to pause (true) while the client does not read its answers.
        pause: watch::Sender<bool>,
        reply: oneshot::Sender<Conn>,
    },
    Read(Conn, BytesMut),
    /// The socket is gone (end of stream or error).
    Closed(Conn),
    /// The writer finished its last buffer.
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

/// What the core task tells a writer.
enum Write {
    Bytes(Bytes),
    /// Flush what was sent before, then close the socket.
    Close,
}

struct Peer {
    serial: u64,
    addr: SocketAddr,
    /// Known once CONNECT is accepted, for the logs.
    client_id: Option<mqtt_codec::MqttString>,
    writer: mpsc::Sender<Write>,
    pause: watch::Sender<bool>,
    /// A buffer is with the writer.
    writing: bool,
    /// Bytes read that do not make a whole packet yet.
    input: BytesMut,
}

/// What the adapter itself limits (the protocol's limits are in [`Config`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerOptions {
    /// Connections served at once; one more is closed as soon as it is accepted.
    pub max_connections: Option<usize>,
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
                tokio::spawn(connection(stream, addr, commands.clone()));
            }
            Err(err) => {
                tracing::warn!("accept failed: {err}");
                // Out of file descriptors and the like: do not spin.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// One connection: registers with the core, then runs its reader here and its writer in
/// a task of its own.
async fn connection(stream: TcpStream, addr: SocketAddr, commands: mpsc::Sender<Command>) {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let (writer, writes) = mpsc::channel(2);
    let (pause, paused) = watch::channel(false);
    let (reply, handle) = oneshot::channel();
    if commands
        .send(Command::Opened {
            addr,
            writer,
            pause,
            reply,
        })
        .await
        .is_err()
    {
        return;
    }
    let Ok(handle) = handle.await else {
        return;
    };
    tokio::spawn(writer_task(handle, write, writes, commands.clone()));
    reader_task(handle, read, paused, commands).await;
}

async fn reader_task(
    handle: Conn,
    mut read: OwnedReadHalf,
    mut paused: watch::Receiver<bool>,
    commands: mpsc::Sender<Command>,
) {
    loop {
        // A client that does not read what the broker answers is not read from until it
        // catches up (`Broker::wants_read`): TCP then slows it down, and the broker's
        // buffer for it stays bounded.
        if paused.wait_for(|paused| !paused).await.is_err() {
            break;
        }
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        match read.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if commands.send(Command::Read(handle, buf)).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = commands.send(Command::Closed(handle)).await;
}

async fn writer_task(
    handle: Conn,
    mut write: OwnedWriteHalf,
    mut writes: mpsc::Receiver<Write>,
    commands: mpsc::Sender<Command>,
) {
    while let Some(message) = writes.recv().await {
        match message {
            Write::Bytes(bytes) => {
                if write.write_all(&bytes).await.is_err() {
                    let _ = commands.send(Command::Closed(handle)).await;
                    return;
                }
                if commands.send(Command::Written(handle)).await.is_err() {
                    return;
                }
            }
            Write::Close => {
                let _ = write.shutdown().await;
                return;
            }
        }
    }
}

/// The core task: the only owner of the broker.
/// The connections the core task serves.
#[derive(Default)]
struct Peers {
    map: HashMap<ConnectionHandle, Peer>,
    /// Connections the core decided to close, by serial, until their last bytes are
    /// written: the only ones `drain` has to look at.
    closing: Vec<Conn>,
}

/// The peer a connection task's message is about, if that connection is still the one in
/// the slot.
fn live(peers: &mut Peers, conn: Conn) -> Option<&mut Peer> {
    peers
        .map
        .get_mut(&conn.handle)
        .filter(|peer| peer.serial == conn.serial)
}

async fn run_core(mut broker: Broker, mut inbox: mpsc::Receiver<Command>, options: ServerOptions) {
    let mut peers = Peers::default();
    let mut serials = 0u64;
    loop {
        let deadline = broker.poll_timeout();
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
            Command::Opened {
                addr,
                writer,
                pause,
                reply,
            } => {
                if options
                    .max_connections
                    .is_some_and(|max| peers.map.len() >= max)
                {
                    // Refused: dropping the reply ends the connection task, which closes
                    // the socket.
                    tracing::warn!(%addr, "connection refused: max_connections reached");
                    continue;
                }
                let handle = broker.handle_connection_opened(now);
                serials += 1;
                peers.map.insert(
                    handle,
                    Peer {
                        serial: serials,
                        addr,
                        client_id: None,
                        writer,
                        pause,
                        writing: false,
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
                    if !broker.wants_read(handle) {
                        peer.pause.send_replace(true);
                    }
                }
            }
            Command::Closed(conn) => {
                let handle = conn.handle;
                let is_live = live(&mut peers, conn).is_some();
                if let Some(peer) = is_live.then(|| peers.map.remove(&handle)).flatten() {
                    tracing::info!(
                        addr = %peer.addr,
                        client_id = ?peer.client_id,
                        "connection lost"
                    );
                    broker.handle_closed(now, handle);
                }
            }
            Command::Written(conn) => {
                if let Some(peer) = live(&mut peers, conn) {
                    peer.writing = false;
                    send_next(&mut broker, now, conn.handle, peer);
                }
            }
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
    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    while !peers.map.is_empty() {
        let command = tokio::select! {
            command = inbox.recv() => command,
            () = tokio::time::sleep_until(until) => return,
        };
        let now = Instant::now();
        match command {
            Some(Command::Written(conn)) => {
                if let Some(peer) = live(peers, conn) {
                    peer.writing = false;
                    send_next(broker, now, conn.handle, peer);
                }
            }
            Some(Command::Closed(conn)) => {
                if live(peers, conn).is_some() {
                    peers.map.remove(&conn.handle);
                    broker.handle_closed(now, conn.handle);
                }
            }
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
                if let Some(peer) = peers.map.get_mut(&handle) {
                    send_next(broker, now, handle, peer);
                }
            }
            Event::Close { connection, reason } => {
                if let Some(peer) = peers.map.get_mut(&connection) {
                    log_close(peer.addr, peer.client_id.as_ref(), reason);
                    send_next(broker, now, connection, peer);
                    let serial = peer.serial;
                    peers.closing.push(Conn {
                        handle: connection,
                        serial,
                    });
                }
            }
            Event::Connected {
                connection,
                client_id,
                session_present,
            } => {
                if let Some(peer) = peers.map.get_mut(&connection) {
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
    closing.retain(|&conn| {
        match live(peers, conn) {
            Some(peer) if peer.writing => return true,
            Some(_) => {}
            None => return false,
        }
        if let Some(peer) = peers.map.remove(&conn.handle) {
            let _ = peer.writer.try_send(Write::Close);
            broker.handle_closed(now, conn.handle);
        }
        false
    });
    peers.closing = closing;
}

/// Gives the writer the connection's next bytes, if it is idle.
fn send_next(broker: &mut Broker, now: Instant, handle: ConnectionHandle, peer: &mut Peer) {
    if peer.writing {
        return;
    }
    if let Some(bytes) = broker.poll_transmit(now, handle) {
        if peer.writer.try_send(Write::Bytes(bytes)).is_ok() {
            peer.writing = true;
        }
    }
    if *peer.pause.borrow() && broker.wants_read(handle) {
        peer.pause.send_replace(false);
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

    async fn open(commands: &mpsc::Sender<Command>) -> (Conn, mpsc::Receiver<Write>) {
        let (writer, writes) = mpsc::channel(2);
        let (pause, _paused) = watch::channel(false);
        let (reply, conn) = oneshot::channel();
        commands
            .send(Command::Opened {
                addr: "127.0.0.1:1".parse().unwrap(),
                writer,
                pause,
                reply,
            })
            .await
            .unwrap();
        (conn.await.unwrap(), writes)
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
        let (old, mut old_writes) = open(&commands).await;
        let mut bytes = connect("old");
        bytes.extend_from_slice(&encode(mqtt_codec::Packet::Disconnect(Default::default())));
        commands.send(Command::Read(old, bytes)).await.unwrap();
        assert!(
            matches!(old_writes.recv().await, Some(Write::Bytes(_))),
            "CONNACK"
        );
        commands.send(Command::Written(old)).await.unwrap();
        assert!(matches!(old_writes.recv().await, Some(Write::Close)));
        // A new connection takes the slot; only then does the old reader report the close.
        let (new, mut new_writes) = open(&commands).await;
        assert_eq!(new.handle, old.handle, "the slot is reused");
        commands.send(Command::Closed(old)).await.unwrap();
        commands
            .send(Command::Read(new, connect("new")))
            .await
            .unwrap();
        assert!(
            matches!(new_writes.recv().await, Some(Write::Bytes(_))),
            "CONNACK"
        );
        commands.send(Command::Written(new)).await.unwrap();
        commands
            .send(Command::Read(new, encode(mqtt_codec::Packet::PingReq)))
            .await
            .unwrap();
        match new_writes.recv().await {
            Some(Write::Bytes(bytes)) => assert_eq!(&bytes[..], &[0xD0, 0x00], "PINGRESP"),
            _ => panic!("the new connection was closed by the old one's late report"),
        }
        commands.send(Command::Shutdown).await.unwrap();
        core.await.unwrap();
    }
}
