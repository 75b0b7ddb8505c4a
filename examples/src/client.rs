//! A tokio MQTT client on [`mqtt_client_core::Client`], for other projects: a cloneable
//! [`MqttClient`] handle to publish, subscribe and unsubscribe from any task, and a stream of
//! [`Event`]s.
//!
//! - **Backpressure that cannot deadlock**: commands go through a bounded channel and events
//!   come out of a bounded channel. While events wait for the application, the connection
//!   task stops reading the socket (TCP slows the server down) but keeps taking commands,
//!   so publishing from the task that handles incoming messages always works.
//! - **Reconnect** after a lost connection with exponential backoff and jitter (from
//!   [`ClientConfig::min_backoff`] doubling up to [`ClientConfig::max_backoff`]), never in a
//!   tight loop. With `clean_start = false` the session resumes and unacknowledged QoS 1/2
//!   messages are re-sent by the core, in order.
//! - **Manual acknowledgement** is the core's option ([`ConnectOptions::manual_acks`]):
//!   pass each message's [`AckHandle`] to [`MqttClient::ack`] once it is processed.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use bytes::Bytes;
//! use examples::client::{connect, ClientConfig};
//! use mqtt_client_core::{ConnectOptions, Event};
//! use mqtt_codec::{MqttString, Publish, QoS, SubscriptionOptions};
//!
//! let options = ConnectOptions::new(MqttString::from_static("thermostat"));
//! let (client, mut events) = connect("127.0.0.1:1883", options, ClientConfig::default());
//! client
//!     .subscribe(vec![(MqttString::from_static("home/+/temp"), SubscriptionOptions::qos(QoS::AtLeastOnce))])
//!     .await?;
//! while let Some(event) = events.recv().await {
//!     if let Event::Message(message) = event {
//!         // Publishing from here is fine: it cannot deadlock.
//!         let mut reply = Publish::new(MqttString::from_static("home/log"), message.payload);
//!         reply.qos = QoS::AtLeastOnce;
//!         client.publish(reply).await?;
//!     }
//! }
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mqtt_client_core::{AckHandle, Client, ClientError, ConnectOptions, Event, PublishId};
use mqtt_codec::{MqttString, PacketId, Publish, ReasonCode, SubscriptionOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// How the connection task behaves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Commands that may wait for the connection task. Default 64.
    pub command_queue: usize,
    /// Events that may wait for the application. Default 256.
    pub event_queue: usize,
    /// The first reconnect delay. Default 100 ms.
    pub min_backoff: Duration,
    /// The longest reconnect delay. Default 30 s.
    pub max_backoff: Duration,
    /// Reconnect after a lost connection. Default true.
    pub reconnect: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            command_queue: 64,
            event_queue: 256,
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(30),
            reconnect: true,
        }
    }
}

/// A command failed: the client said no, or the connection task is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// The client core refused it.
    Client(ClientError),
    /// The connection task has ended (after [`MqttClient::disconnect`], or without
    /// reconnect).
    Closed,
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Client(err) => err.fmt(f),
            Self::Closed => f.write_str("the client has stopped"),
        }
    }
}

impl std::error::Error for CommandError {}

type Reply<T> = oneshot::Sender<Result<T, ClientError>>;

enum Command {
    Publish(Publish, Reply<PublishId>),
    Subscribe(Vec<(MqttString, SubscriptionOptions)>, Reply<PacketId>),
    Unsubscribe(Vec<MqttString>, Reply<PacketId>),
    Ack(AckHandle, Reply<()>),
    Disconnect(oneshot::Sender<()>),
}

/// A cloneable handle to the connection task.
#[derive(Debug, Clone)]
pub struct MqttClient {
    commands: mpsc::Sender<Command>,
}

impl MqttClient {
    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, CommandError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(make(reply))
            .await
            .map_err(|_| CommandError::Closed)?;
        answer
            .await
            .map_err(|_| CommandError::Closed)?
            .map_err(CommandError::Client)
    }

    /// Publishes; QoS 1/2 completion comes as [`Event::PublishCompleted`] with the id.
    pub async fn publish(&self, publish: Publish) -> Result<PublishId, CommandError> {
        self.call(|reply| Command::Publish(publish, reply)).await
    }

    /// Subscribes; the SUBACK comes as [`Event::Subscribed`] with the packet id.
    pub async fn subscribe(
        &self,
        filters: Vec<(MqttString, SubscriptionOptions)>,
    ) -> Result<PacketId, CommandError> {
        self.call(|reply| Command::Subscribe(filters, reply)).await
    }

    /// Unsubscribes; the UNSUBACK comes as [`Event::Unsubscribed`].
    pub async fn unsubscribe(&self, filters: Vec<MqttString>) -> Result<PacketId, CommandError> {
        self.call(|reply| Command::Unsubscribe(filters, reply))
            .await
    }

    /// Acknowledges a message received with manual acks.
    pub async fn ack(&self, handle: AckHandle) -> Result<(), CommandError> {
        self.call(|reply| Command::Ack(handle, reply)).await
    }

    /// Sends DISCONNECT and stops the connection task (no reconnect).
    pub async fn disconnect(&self) -> Result<(), CommandError> {
        let (done, finished) = oneshot::channel();
        self.commands
            .send(Command::Disconnect(done))
            .await
            .map_err(|_| CommandError::Closed)?;
        finished.await.map_err(|_| CommandError::Closed)
    }
}

/// Starts a client for `addr` (`host:port`): returns the handle and the events. The task
/// connects at once and reconnects after failures as [`ClientConfig`] says.
pub fn connect(
    addr: impl Into<String>,
    options: ConnectOptions,
    config: ClientConfig,
) -> (MqttClient, mpsc::Receiver<Event>) {
    let (commands, inbox) = mpsc::channel(config.command_queue.max(1));
    let (events, outbox) = mpsc::channel(config.event_queue.max(1));
    let task = Task {
        addr: addr.into(),
        client: Client::new(options),
        config,
        inbox,
        events,
        pending: VecDeque::new(),
        rng: seed(),
    };
    tokio::spawn(task.run());
    (MqttClient { commands }, outbox)
}

struct Task {
    addr: String,
    client: Client,
    config: ClientConfig,
    inbox: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
    /// Events the application has not taken yet.
    pending: VecDeque<Event>,
    rng: u64,
}

/// What woke the connection task.
enum Next {
    Read(std::io::Result<usize>),
    Command(Option<Command>),
    Permit(Option<mpsc::OwnedPermit<Event>>),
    Timeout,
}

/// How a connection ended.
enum Ended {
    Lost,
    Stopped,
}

impl Task {
    async fn run(mut self) {
        let mut backoff = self.config.min_backoff;
        loop {
            let started = Instant::now();
            match self.connection().await {
                Ended::Stopped => return,
                Ended::Lost if !self.config.reconnect => return,
                Ended::Lost => {}
            }
            // A connection that lasted resets the backoff.
            if started.elapsed() > self.config.max_backoff {
                backoff = self.config.min_backoff;
            }
            let delay = self.jitter(backoff);
            tracing::debug!(?delay, "reconnecting");
            if !self.wait(delay).await {
                return;
            }
            backoff = (backoff * 2).min(self.config.max_backoff);
        }
    }

    /// Waits `delay` before a reconnect, answering commands meanwhile (publishes queue in
    /// the core). Returns false if the application asked to stop.
    async fn wait(&mut self, delay: Duration) -> bool {
        let until = tokio::time::Instant::now() + delay;
        loop {
            let events = self.events.clone();
            let next = tokio::select! {
                () = tokio::time::sleep_until(until) => return true,
                command = self.inbox.recv() => Next::Command(command),
                permit = events.reserve_owned(), if !self.pending.is_empty() => Next::Permit(permit.ok()),
            };
            match next {
                Next::Command(Some(Command::Disconnect(done))) => {
                    let _ = done.send(());
                    return false;
                }
                Next::Command(Some(command)) => self.command(command),
                Next::Command(None) | Next::Permit(None) => return false,
                Next::Permit(Some(permit)) => {
                    if let Some(event) = self.pending.pop_front() {
                        permit.send(event);
                    }
                }
                Next::Read(_) | Next::Timeout => {}
            }
        }
    }

    /// A random delay between half and all of `backoff`, so many clients do not reconnect
    /// in step.
    fn jitter(&mut self, backoff: Duration) -> Duration {
        // xorshift64: enough to spread reconnects, not for anything secret.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let fraction = (self.rng % 1000) as f64 / 1000.0;
        backoff.mul_f64(0.5 + fraction / 2.0)
    }

    fn command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Publish(publish, reply) => {
                let _ = reply.send(self.client.publish(now, publish));
            }
            Command::Subscribe(filters, reply) => {
                let _ = reply.send(self.client.subscribe(now, filters));
            }
            Command::Unsubscribe(filters, reply) => {
                let _ = reply.send(self.client.unsubscribe(now, filters));
            }
            Command::Ack(handle, reply) => {
                let _ = reply.send(self.client.ack(now, handle));
            }
            Command::Disconnect(_) => unreachable!("handled by the caller"),
        }
    }

    fn collect_events(&mut self) {
        while let Some(event) = self.client.poll_event() {
            self.pending.push_back(event);
        }
    }

    async fn connection(&mut self) -> Ended {
        let stream = match TcpStream::connect(&self.addr).await {
            Ok(stream) => stream,
            Err(err) => {
                tracing::debug!("connect to {} failed: {err}", self.addr);
                return Ended::Lost;
            }
        };
        let _ = stream.set_nodelay(true);
        let (mut read, mut write) = stream.into_split();
        if self.client.connect(Instant::now()).is_err() {
            return Ended::Stopped;
        }
        let mut input = BytesMut::with_capacity(16 * 1024);
        loop {
            // Write what the core has, then wait for the next input.
            while let Some(bytes) = self.client.poll_transmit() {
                if write.write_all(&bytes).await.is_err() {
                    self.client.connection_lost(Instant::now());
                    self.collect_events();
                    return Ended::Lost;
                }
            }
            self.collect_events();
            // The core ended the connection (refusal, timeout, protocol error, server
            // DISCONNECT); its `Disconnected` event is among the pending ones.
            if self.client.state() == mqtt_client_core::ConnectionState::Disconnected {
                let _ = write.shutdown().await;
                return Ended::Lost;
            }
            let deadline = self.client.poll_timeout();
            // While events wait for the application the socket is not read: TCP slows the
            // server down; commands are still taken.
            let reading = self.pending.len() < self.config.event_queue;
            let events = self.events.clone();
            let next = tokio::select! {
                result = read.read_buf(&mut input), if reading => Next::Read(result),
                command = self.inbox.recv() => Next::Command(command),
                permit = events.reserve_owned(), if !self.pending.is_empty() => Next::Permit(permit.ok()),
                () = sleep_until(deadline) => Next::Timeout,
            };
            match next {
                Next::Read(Ok(0) | Err(_)) => {
                    self.client.connection_lost(Instant::now());
                    self.collect_events();
                    return Ended::Lost;
                }
                Next::Read(Ok(_)) => self.client.handle_bytes(Instant::now(), &mut input),
                Next::Command(Some(Command::Disconnect(done))) => {
                    let _ = self.client.disconnect(
                        Instant::now(),
                        ReasonCode::Success,
                        Default::default(),
                    );
                    while let Some(bytes) = self.client.poll_transmit() {
                        let _ = write.write_all(&bytes).await;
                    }
                    let _ = write.shutdown().await;
                    self.collect_events();
                    self.flush_events();
                    let _ = done.send(());
                    return Ended::Stopped;
                }
                Next::Command(Some(command)) => self.command(command),
                Next::Command(None) | Next::Permit(None) => return Ended::Stopped,
                Next::Permit(Some(permit)) => {
                    if let Some(event) = self.pending.pop_front() {
                        permit.send(event);
                    }
                }
                Next::Timeout => self.client.handle_timeout(Instant::now()),
            }
        }
    }

    /// Hands what is left to the application, as far as it takes it.
    fn flush_events(&mut self) {
        while let Some(event) = self.pending.pop_front() {
            if self.events.try_send(event).is_err() {
                break;
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (nanos ^ u64::from(std::process::id())) | 1
}
