//! Realistic topic workloads: home automation (`home/{room}/{device}/{attribute}`) and fleets
//! (`fleet/{vehicle}/{sensor}`), with about 1% wildcard filters, deterministic so every run
//! and every peer sees the same set.

use mqtt_topic::{TopicFilter, TopicName};

const ATTRIBUTES: [&str; 8] = [
    "temperature",
    "humidity",
    "state",
    "brightness",
    "battery",
    "linkquality",
    "power",
    "energy",
];
const SENSORS: [&str; 8] = [
    "speed", "gps", "fuel", "rpm", "odometer", "door", "tyres", "engine",
];
const ROOMS: usize = 64;

/// The `i`-th topic name of the workload: even indices are home devices, odd ones fleet
/// sensors; distinct for distinct `i`.
pub fn name(i: usize) -> String {
    let j = i / 2;
    if i.is_multiple_of(2) {
        let attribute = ATTRIBUTES[j % ATTRIBUTES.len()];
        let rest = j / ATTRIBUTES.len();
        format!(
            "home/room{}/device{}/{attribute}",
            rest % ROOMS,
            rest / ROOMS
        )
    } else {
        let sensor = SENSORS[j % SENSORS.len()];
        format!("fleet/vehicle{}/{sensor}", j / SENSORS.len())
    }
}

/// The `i`-th filter: the `i`-th name, except every 100th, which is a wildcard filter over
/// the same region (`home/roomR/+/attribute`, `home/roomR/deviceD/#`, `fleet/vehicleV/+`,
/// `fleet/+/sensor`).
pub fn filter(i: usize) -> String {
    let name = name(i);
    if !i.is_multiple_of(100) {
        return name;
    }
    let levels: Vec<&str> = name.split('/').collect();
    match (levels[0], (i / 100) % 2) {
        ("home", 0) => format!("home/{}/+/{}", levels[1], levels[3]),
        ("home", _) => format!("home/{}/{}/#", levels[1], levels[2]),
        (_, 0) => format!("fleet/{}/+", levels[1]),
        _ => format!("fleet/+/{}", levels[2]),
    }
}

/// `count` filters of the workload.
pub fn filters(count: usize) -> Vec<TopicFilter> {
    (0..count)
        .map(|i| TopicFilter::try_from(filter(i).as_str()).expect("valid filter"))
        .collect()
}

/// A topic name that the first `count` filters match several times: a home attribute whose
/// room has wildcard subscribers.
pub fn probe(count: usize) -> TopicName {
    // Filter 200 is `home/room{r}/+/{attribute}`; pick a device of that room in range.
    let i = 200.min(count.saturating_sub(2)) & !1;
    TopicName::try_from(name(i).as_str()).expect("valid name")
}

/// `count` topic names (for the retained index).
pub fn names(count: usize) -> Vec<TopicName> {
    (0..count)
        .map(|i| TopicName::try_from(name(i).as_str()).expect("valid name"))
        .collect()
}
