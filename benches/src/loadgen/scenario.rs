//! The scenarios. Each one connects its clients, measures, and stops by itself: publishing
//! lasts `--duration` seconds (or `--messages` per publisher), the last deliveries get
//! `--drain` seconds, handshakes time out after 30 s.
//!
//! Throughput is deliveries received per second while publishing. Publishers stay at most
//! `--ahead` deliveries ahead of the subscribers, so the figure is what a broker sustains
//! with bounded queues, not how fast it can buffer.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mqtt_codec::{MqttString, Packet, QoS};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;

use super::procfs::{self, Sample};
use super::report::{BrokerUsage, Latencies, Report};
use super::wire::{self, Connection, PublishTemplate};
use super::{Params, ScenarioKind, Target};

/// PUBLISHes written per system call at most.
const BATCH: usize = 256;
/// Subscribers matching every wildcard-scenario message through `site/#`.
const HASH_SUBSCRIBERS: usize = 12;
/// How often the broker's memory is sampled during a run.
const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// The generator's clock, in nanoseconds since its first use.
fn now_nanos() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// A prefix no earlier run used, for client ids and topics.
fn nonce() -> String {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    format!(
        "lg{}x{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `kind` against `target`.
pub async fn run(kind: ScenarioKind, params: &Params, target: &Target) -> io::Result<Report> {
    let mut report = match kind {
        ScenarioKind::Idle => idle(params, target).await?,
        ScenarioKind::Retained => retained(params, target).await?,
        _ => flow(Flow::new(kind, params)?, params, target).await?,
    };
    report.scenario = kind.name().to_owned();
    report.broker.clone_from(&target.label);
    Ok(report)
}

/// Publishers, subscribers and how messages travel between them.
struct Flow {
    /// The topics each publisher cycles over.
    publishers: Vec<Vec<PublishTemplate>>,
    /// The filters of each subscriber.
    subscribers: Vec<Vec<String>>,
    /// QoS of publishing and of the subscriptions.
    qos: QoS,
    /// How many subscribers each message reaches.
    fan_out: u64,
    /// Messages per second over all publishers; `None`: as fast as the broker goes.
    rate: Option<u64>,
}

impl Flow {
    fn new(kind: ScenarioKind, params: &Params) -> io::Result<Self> {
        let prefix = nonce();
        let topic = |name: &str| format!("{prefix}/{name}");
        let one = |qos| -> io::Result<Self> {
            Ok(Self {
                publishers: vec![vec![PublishTemplate::new(
                    &topic("one"),
                    qos,
                    false,
                    params.payload,
                )?]],
                subscribers: vec![vec![topic("one")]],
                qos,
                fan_out: 1,
                rate: None,
            })
        };
        Ok(match kind {
            ScenarioKind::FanIn => Self {
                publishers: (0..params.publishers.max(1))
                    .map(|p| {
                        PublishTemplate::new(
                            &topic(&format!("in/{p}")),
                            QoS::AtMostOnce,
                            false,
                            params.payload,
                        )
                        .map(|template| vec![template])
                    })
                    .collect::<io::Result<_>>()?,
                subscribers: vec![vec![topic("in/+")]],
                qos: QoS::AtMostOnce,
                fan_out: 1,
                rate: None,
            },
            ScenarioKind::FanOut => {
                let subscribers = params.subscribers.unwrap_or(16).max(1);
                Self {
                    subscribers: vec![vec![topic("out")]; subscribers],
                    fan_out: subscribers as u64,
                    publishers: vec![vec![PublishTemplate::new(
                        &topic("out"),
                        QoS::AtMostOnce,
                        false,
                        params.payload,
                    )?]],
                    qos: QoS::AtMostOnce,
                    rate: None,
                }
            }
            ScenarioKind::Qos1 => one(QoS::AtLeastOnce)?,
            ScenarioKind::Qos2 => one(QoS::ExactlyOnce)?,
            ScenarioKind::Wildcard => {
                let sites = params.subscribers.unwrap_or(1000).max(1);
                let mut subscribers: Vec<Vec<String>> = (0..sites)
                    .map(|i| vec![topic(&format!("site/{i}/+/temp"))])
                    .collect();
                subscribers.extend((0..HASH_SUBSCRIBERS).map(|_| vec![topic("site/#")]));
                let topics = (0..params.topics.max(1))
                    .map(|i| {
                        PublishTemplate::new(
                            &topic(&format!("site/{i}/room/temp")),
                            QoS::AtMostOnce,
                            false,
                            params.payload,
                        )
                    })
                    .collect::<io::Result<Vec<_>>>()?;
                // Topics beyond the sites reach only the `site/#` subscribers.
                let reaching_a_site = params.topics.max(1).min(sites) as f64;
                let per_message = HASH_SUBSCRIBERS as f64 + reaching_a_site / topics.len() as f64;
                Self {
                    publishers: vec![topics],
                    subscribers,
                    qos: QoS::AtMostOnce,
                    fan_out: per_message.round() as u64,
                    rate: None,
                }
            }
            ScenarioKind::Latency => Self {
                rate: Some(params.rate.max(1)),
                ..one(QoS::AtMostOnce)?
            },
            ScenarioKind::Idle | ScenarioKind::Retained => {
                unreachable!("not a publish/subscribe flow")
            }
        })
    }
}

/// Counters the flow's tasks share.
#[derive(Debug, Default)]
struct Shared {
    /// Messages published.
    sent: AtomicU64,
    /// Deliveries received.
    delivered: AtomicU64,
    /// Publishers stop starting messages.
    stop: AtomicBool,
    /// Publishers still running.
    running: AtomicUsize,
    /// Subscribers received something (publishers waiting for room wake up).
    progress: Notify,
}

/// Connects `ids.len()` clients, at most `concurrency` handshakes at once, subscribing
/// each to its filters.
async fn open_all(
    target: &Target,
    clients: Vec<(String, Vec<String>)>,
    qos: QoS,
    concurrency: usize,
) -> io::Result<Vec<Connection>> {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (index, (id, filters)) in clients.into_iter().enumerate() {
        let permits = permits.clone();
        let addr = target.addr;
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("never closed");
            let mut connection = Connection::open(addr, &id).await?;
            if !filters.is_empty() {
                connection.subscribe(&filters, qos).await?;
            }
            Ok::<_, io::Error>((index, connection.busy()))
        });
    }
    let mut connections = Vec::new();
    while let Some(result) = tasks.join_next().await {
        connections.push(result.map_err(io::Error::other)??);
    }
    connections.sort_by_key(|(index, _)| *index);
    Ok(connections.into_iter().map(|(_, c)| c).collect())
}

/// Samples the broker every 10 ms for its peak memory.
#[derive(Debug)]
struct Watch {
    pid: Option<u32>,
    start: Option<Sample>,
    peak_rss: u64,
}

impl Watch {
    fn new(target: &Target) -> Self {
        let start = target.pid.and_then(procfs::sample);
        Self {
            pid: target.pid,
            peak_rss: start.map_or(0, |s| s.rss_bytes),
            start,
        }
    }

    fn sample(&mut self) -> Option<Sample> {
        let sample = self.pid.and_then(procfs::sample)?;
        self.peak_rss = self.peak_rss.max(sample.rss_bytes);
        Some(sample)
    }

    /// What the broker used from the start until `until`; `end` gives its memory after the run.
    fn usage(&self, until: Option<Sample>, end: Option<Sample>) -> Option<BrokerUsage> {
        let (start, until) = (self.start?, until?);
        Some(BrokerUsage {
            cpu_seconds: until.cpu_seconds - start.cpu_seconds,
            peak_rss_bytes: self.peak_rss,
            end_rss_bytes: end.map_or(until.rss_bytes, |s| s.rss_bytes),
        })
    }
}

async fn flow(flow: Flow, params: &Params, target: &Target) -> io::Result<Report> {
    let prefix = nonce();
    let subscribers = open_all(
        target,
        flow.subscribers
            .iter()
            .enumerate()
            .map(|(i, filters)| (format!("{prefix}s{i}"), filters.clone()))
            .collect(),
        flow.qos,
        100,
    )
    .await?;
    let publishers = open_all(
        target,
        (0..flow.publishers.len())
            .map(|i| (format!("{prefix}p{i}"), Vec::new()))
            .collect(),
        flow.qos,
        100,
    )
    .await?;
    let shared = Arc::new(Shared::default());
    let (finish, finished) = watch::channel(false);
    let mut subscriber_tasks = JoinSet::new();
    for connection in subscribers {
        subscriber_tasks.spawn(subscribe_loop(connection, shared.clone(), finished.clone()));
    }
    let mut watch = Watch::new(target);
    let start = Instant::now();
    let mut publisher_tasks = JoinSet::new();
    let count = publishers.len() as u64;
    shared.running.store(publishers.len(), Ordering::SeqCst);
    for (connection, topics) in publishers.into_iter().zip(flow.publishers) {
        let publisher = Publisher {
            connection,
            topics,
            qos: flow.qos,
            window: params.window.clamp(1, usize::from(u16::MAX)),
            limit: params.messages,
            pace: match flow.rate {
                Some(rate) => Pace::Rate {
                    per_second: (rate / count).max(1),
                    start,
                },
                None => Pace::Ahead {
                    deliveries: params.ahead.max(1),
                    fan_out: flow.fan_out.max(1),
                },
            },
            shared: shared.clone(),
        };
        publisher_tasks.spawn(publisher.run());
    }
    // Measure while publishing.
    let publish_for = params.publish_for();
    let mut last = None;
    loop {
        tokio::time::sleep(SAMPLE_EVERY).await;
        last = watch.sample().or(last);
        let all_sent = shared.running.load(Ordering::SeqCst) == 0;
        let sent = shared.sent.load(Ordering::SeqCst);
        let delivered = shared.delivered.load(Ordering::SeqCst);
        if start.elapsed() >= publish_for || (all_sent && delivered >= sent * flow.fan_out) {
            break;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let delivered_while_publishing = shared.delivered.load(Ordering::SeqCst);
    let measured = watch.sample().or(last);
    shared.stop.store(true, Ordering::SeqCst);
    shared.progress.notify_waiters();
    let mut published = 0;
    while let Some(result) = publisher_tasks.join_next().await {
        published += result.map_err(io::Error::other)??;
    }
    // Let the last deliveries arrive (until none came for --drain seconds).
    let expected = published * flow.fan_out;
    let mut seen = shared.delivered.load(Ordering::SeqCst);
    let mut quiet_since = Instant::now();
    while seen < expected && quiet_since.elapsed() < params.drain_for() {
        tokio::time::sleep(SAMPLE_EVERY).await;
        watch.sample();
        let now_seen = shared.delivered.load(Ordering::SeqCst);
        if now_seen != seen {
            seen = now_seen;
            quiet_since = Instant::now();
        }
    }
    let _ = finish.send(true);
    let mut latencies = Latencies::default();
    while let Some(result) = subscriber_tasks.join_next().await {
        latencies.merge(&result.map_err(io::Error::other)??);
    }
    let end = watch.sample();
    Ok(Report {
        published,
        expected,
        delivered: shared.delivered.load(Ordering::SeqCst),
        delivered_measured: delivered_while_publishing,
        seconds,
        deliveries_per_second: delivered_while_publishing as f64 / seconds,
        latency: latencies.summary(),
        broker_usage: watch.usage(measured, end),
        ..Report::default()
    })
}

/// How a publisher decides it may send more.
#[derive(Debug, Clone, Copy)]
enum Pace {
    /// At most `deliveries` deliveries outstanding over all publishers.
    Ahead { deliveries: u64, fan_out: u64 },
    /// A fixed rate from `start`.
    Rate { per_second: u64, start: Instant },
}

struct Publisher {
    connection: Connection,
    topics: Vec<PublishTemplate>,
    qos: QoS,
    window: usize,
    limit: u64,
    pace: Pace,
    shared: Arc<Shared>,
}

impl Publisher {
    /// Messages this publisher may start now.
    fn budget(&self, sent: u64, inflight: usize) -> u64 {
        if self.shared.stop.load(Ordering::Relaxed) || sent >= self.limit {
            return 0;
        }
        let room = match self.pace {
            Pace::Ahead {
                deliveries,
                fan_out,
            } => {
                let outstanding = (self.shared.sent.load(Ordering::Relaxed) * fan_out)
                    .saturating_sub(self.shared.delivered.load(Ordering::Relaxed));
                deliveries.saturating_sub(outstanding).div_ceil(fan_out)
            }
            Pace::Rate { per_second, start } => {
                let due = (start.elapsed().as_secs_f64() * per_second as f64) as u64;
                due.saturating_sub(sent)
            }
        };
        let window = match self.qos {
            QoS::AtMostOnce => u64::MAX,
            _ => (self.window - inflight) as u64,
        };
        room.min(window).min(BATCH as u64).min(self.limit - sent)
    }

    /// Publishes until stopped; returns the messages published.
    async fn run(mut self) -> io::Result<u64> {
        let result = self.publish().await;
        self.shared.running.fetch_sub(1, Ordering::SeqCst);
        self.shared.progress.notify_waiters();
        result
    }

    async fn publish(&mut self) -> io::Result<u64> {
        let template_len = self.topics.first().map_or(0, PublishTemplate::len);
        let mut out = BytesMut::with_capacity(BATCH * template_len);
        let mut acks = BytesMut::new();
        let (mut sent, mut inflight, mut next_topic, mut next_id) = (0u64, 0usize, 0usize, 0u16);
        let shared = self.shared.clone();
        loop {
            let progress = shared.progress.notified();
            tokio::pin!(progress);
            progress.as_mut().enable();
            let budget = self.budget(sent, inflight);
            if budget == 0 {
                let stopped = shared.stop.load(Ordering::Relaxed) || sent >= self.limit;
                if stopped && inflight == 0 {
                    return Ok(sent);
                }
                let tick = match self.pace {
                    Pace::Rate { .. } => Duration::from_millis(1),
                    Pace::Ahead { .. } => Duration::from_millis(10),
                };
                if inflight > 0 {
                    tokio::select! {
                        read = self.connection.fill() => { read?; }
                        () = &mut progress, if !stopped => {}
                        () = tokio::time::sleep(tick), if !stopped => {}
                    }
                    inflight -= self.take_acks(&mut acks)?;
                    self.flush_acks(&mut acks).await?;
                } else {
                    tokio::select! {
                        () = &mut progress => {}
                        () = tokio::time::sleep(tick) => {}
                    }
                }
                continue;
            }
            let stamp = now_nanos();
            for _ in 0..budget {
                next_id = next_id.checked_add(1).unwrap_or(1);
                self.topics[next_topic].put(&mut out, next_id, stamp);
                next_topic = (next_topic + 1) % self.topics.len();
            }
            sent += budget;
            if self.qos != QoS::AtMostOnce {
                inflight += budget as usize;
            }
            shared.sent.fetch_add(budget, Ordering::Relaxed);
            self.connection.write(&out).await?;
            out.clear();
            if inflight > 0 {
                // Acknowledgements already here, without waiting for more.
                inflight -= self.take_acks(&mut acks)?;
                self.flush_acks(&mut acks).await?;
            }
        }
    }

    /// Handles the acknowledgements read so far; returns how many messages completed.
    fn take_acks(&mut self, replies: &mut BytesMut) -> io::Result<usize> {
        let mut completed = 0;
        while let Some(packet) = self.connection.decode()? {
            match packet {
                Packet::PubAck(_) | Packet::PubComp(_) => completed += 1,
                Packet::PubRec(ack) => wire::put_ack(replies, wire::PUBREL, ack.packet_id.get()),
                other => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("unexpected packet to a publisher: {other:?}"),
                    ))
                }
            }
        }
        Ok(completed)
    }

    async fn flush_acks(&mut self, replies: &mut BytesMut) -> io::Result<()> {
        if !replies.is_empty() {
            self.connection.write(replies).await?;
            replies.clear();
        }
        Ok(())
    }
}

/// A subscriber: counts deliveries, records their latency, acknowledges QoS 1 and 2 (one
/// write per read), until `finished`.
async fn subscribe_loop(
    mut connection: Connection,
    shared: Arc<Shared>,
    mut finished: watch::Receiver<bool>,
) -> io::Result<Latencies> {
    let mut latencies = Latencies::default();
    let mut acks = BytesMut::new();
    loop {
        tokio::select! {
            read = connection.fill() => { read?; }
            _ = finished.wait_for(|done| *done) => return Ok(latencies),
        }
        let now = now_nanos();
        let mut deliveries = 0;
        while let Some(packet) = connection.decode()? {
            match packet {
                Packet::Publish(publish) => {
                    deliveries += 1;
                    if let Some(stamp) = wire::stamp_of(&publish.payload) {
                        latencies.record(now.saturating_sub(stamp) / 1000);
                    }
                    match (publish.qos, publish.packet_id) {
                        (QoS::AtLeastOnce, Some(id)) => {
                            wire::put_ack(&mut acks, wire::PUBACK, id.get());
                        }
                        (QoS::ExactlyOnce, Some(id)) => {
                            wire::put_ack(&mut acks, wire::PUBREC, id.get());
                        }
                        _ => {}
                    }
                }
                Packet::PubRel(release) => {
                    wire::put_ack(&mut acks, wire::PUBCOMP, release.packet_id.get());
                }
                _ => {}
            }
        }
        if !acks.is_empty() {
            connection.write(&acks).await?;
            acks.clear();
        }
        if deliveries > 0 {
            shared.delivered.fetch_add(deliveries, Ordering::Relaxed);
            shared.progress.notify_waiters();
        }
    }
}

/// Many idle connections: connect rate, the broker's memory per connection, and a PINGREQ
/// answered on every one of them.
async fn idle(params: &Params, target: &Target) -> io::Result<Report> {
    let wanted = params.connections as u64;
    procfs::raise_open_files(wanted + 1024);
    let prefix = nonce();
    let mut watch = Watch::new(target);
    let permits = Arc::new(Semaphore::new(params.connect_concurrency.max(1)));
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for i in 0..params.connections {
        let permits = permits.clone();
        let (addr, id) = (target.addr, format!("{prefix}i{i}"));
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("never closed");
            Connection::open(addr, &id).await
        });
    }
    let mut connections = Vec::with_capacity(params.connections);
    let mut errors = 0;
    let mut first_error = None;
    while let Some(result) = tasks.join_next().await {
        match result.map_err(io::Error::other)? {
            Ok(connection) => connections.push(connection),
            Err(err) => {
                errors += 1;
                first_error.get_or_insert(err);
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    if let Some(err) = first_error {
        eprintln!("idle: {errors} connections failed, the first with: {err}");
    }
    // Let the broker settle, then weigh it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let held = watch.sample();
    let opened = connections.len() as u64;
    let rss_per_connection = match (watch.start, held) {
        (Some(before), Some(after)) if opened > 0 => {
            Some((after.rss_bytes as f64 - before.rss_bytes as f64) / opened as f64)
        }
        _ => None,
    };
    // Every connection is still served.
    let mut pings = JoinSet::new();
    for mut connection in connections {
        let permits = permits.clone();
        pings.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("never closed");
            connection.write(&[0xC0, 0x00]).await?;
            match connection.expect_packet().await? {
                Packet::PingResp => Ok(connection),
                other => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("expected PINGRESP, got {other:?}"),
                )),
            }
        });
    }
    let mut alive = Vec::with_capacity(opened as usize);
    while let Some(result) = pings.join_next().await {
        match result.map_err(io::Error::other)? {
            Ok(connection) => alive.push(connection),
            Err(_) => errors += 1,
        }
    }
    drop(alive);
    Ok(Report {
        connections: opened,
        seconds,
        connects_per_second: opened as f64 / seconds,
        errors,
        rss_per_connection,
        broker_usage: watch.usage(held, None),
        ..Report::default()
    })
}

/// `--retained` retained topics, stored, then one subscriber to all of them: how fast the
/// broker hands out its retained messages. The topics are emptied again at the end.
async fn retained(params: &Params, target: &Target) -> io::Result<Report> {
    let prefix = nonce();
    let count = params.retained.max(1);
    let topic = |i: usize| format!("{prefix}/r/{}/{}", i / 1000, i % 1000);
    let mut publisher = Connection::open(target.addr, &format!("{prefix}p"))
        .await?
        .busy();
    store_retained(&mut publisher, count, &topic, params.payload.max(1)).await?;
    let mut subscriber = Connection::open(target.addr, &format!("{prefix}s"))
        .await?
        .busy();
    let mut watch = Watch::new(target);
    let start = Instant::now();
    subscriber
        .send_subscribe(&[format!("{prefix}/r/#")], QoS::AtMostOnce)
        .await?;
    let expected = count as u64;
    let mut delivered = 0u64;
    let mut last_delivery = start;
    let limit = params.publish_for().max(Duration::from_secs(60));
    while delivered < expected
        && last_delivery.elapsed() < params.drain_for()
        && start.elapsed() < limit
    {
        tokio::select! {
            read = subscriber.fill() => { read?; }
            () = tokio::time::sleep(SAMPLE_EVERY) => { watch.sample(); continue; }
        }
        while let Some(packet) = subscriber.decode()? {
            if matches!(packet, Packet::Publish(ref p) if p.retain) {
                delivered += 1;
                last_delivery = Instant::now();
            }
        }
    }
    let seconds = last_delivery.duration_since(start).as_secs_f64().max(1e-9);
    let measured = watch.sample();
    drop(subscriber);
    // Leave the broker as it was: an empty retained message deletes one [MQTT-3.3.1-10].
    store_retained(&mut publisher, count, &topic, 0).await?;
    Ok(Report {
        published: expected,
        expected,
        delivered,
        delivered_measured: delivered,
        seconds,
        deliveries_per_second: delivered as f64 / seconds,
        broker_usage: watch.usage(measured, watch.pid.and_then(procfs::sample)),
        ..Report::default()
    })
}

/// Publishes a retained message of `payload` bytes (0: deletes) on each of `count` topics,
/// then waits until the broker acknowledged a QoS 1 publish sent after them: it handles a
/// connection's packets in order [MQTT-4.6.0-6], so all are stored by then.
async fn store_retained(
    publisher: &mut Connection,
    count: usize,
    topic: &impl Fn(usize) -> String,
    payload: usize,
) -> io::Result<()> {
    let mut out = BytesMut::new();
    for i in 0..count {
        let mut publish = mqtt_codec::Publish::new(
            MqttString::try_from(topic(i).as_str()).map_err(|_| io::Error::other("topic"))?,
            bytes::Bytes::from(vec![0x5a; payload]),
        );
        publish.retain = true;
        wire::encode(&Packet::Publish(publish), &mut out);
        if out.len() >= 64 * 1024 || i + 1 == count {
            publisher.write(&out).await?;
            out.clear();
        }
    }
    let mut marker = mqtt_codec::Publish::new(
        MqttString::try_from(topic(count).as_str()).map_err(|_| io::Error::other("topic"))?,
        bytes::Bytes::new(),
    );
    marker.qos = QoS::AtLeastOnce;
    marker.packet_id = Some(std::num::NonZeroU16::MIN);
    wire::encode(&Packet::Publish(marker), &mut out);
    publisher.write(&out).await?;
    loop {
        if let Packet::PubAck(_) = publisher.expect_packet().await? {
            return Ok(());
        }
    }
}
