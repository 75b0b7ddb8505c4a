//! The reference matcher: one topic filter against one topic name, level by level.
//!
//! The subscription tree must agree with it on every input; it is the model the property
//! tests hold the tree to, and the naive baseline the benchmarks measure the tree against.

use crate::{TopicFilter, TopicName};

/// Whether `filter` matches `name` (sections 4.7.1 and 4.7.2).
///
/// - Levels are compared exactly, byte for byte: case-sensitive, never normalised
///   [MQTT-4.7.3-4]. Empty levels are levels like any other.
/// - `+` matches exactly one level, which may be empty: `sport/+` matches `sport/` but not
///   `sport`; `+/+` matches `/`.
/// - `#` matches the parent level and any number of child levels: `sport/#` matches `sport`,
///   `sport/` and `sport/tennis/player1`.
/// - A filter starting with `+` or `#` never matches a name starting with `$`
///   [MQTT-4.7.2-1]: `#` does not match `$SYS/uptime`, `$SYS/#` does.
///
/// A shared subscription is matched with its [`filter`](crate::SharedSubscription::filter).
///
/// ```
/// use mqtt_topic::{filter_matches, TopicFilter, TopicName};
///
/// let name = TopicName::from_static("sport/tennis/player1");
/// assert!(filter_matches(&TopicFilter::from_static("sport/#"), &name));
/// assert!(filter_matches(&TopicFilter::from_static("sport/+/player1"), &name));
/// assert!(!filter_matches(&TopicFilter::from_static("sport/+"), &name));
///
/// let sys = TopicName::from_static("$SYS/broker/uptime");
/// assert!(!filter_matches(&TopicFilter::from_static("#"), &sys));
/// assert!(filter_matches(&TopicFilter::from_static("$SYS/#"), &sys));
/// ```
pub fn filter_matches(filter: &TopicFilter, name: &TopicName) -> bool {
    // [MQTT-4.7.2-1]
    if name.is_dollar() && filter.starts_with_wildcard() {
        return false;
    }
    let mut filter_levels = filter.levels();
    let mut name_levels = name.levels();
    loop {
        match (filter_levels.next(), name_levels.next()) {
            // A valid filter has `#` only as its last level: it matches what is left of the
            // name, including nothing ("the parent and any number of child levels").
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(f), Some(n)) if f == n => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

impl TopicFilter {
    /// Whether this filter matches `name`: [`filter_matches`] as a method.
    ///
    /// ```
    /// use mqtt_topic::{TopicFilter, TopicName};
    ///
    /// let filter = TopicFilter::from_static("/+");
    /// assert!(filter.matches(&TopicName::from_static("/finance")));
    /// assert!(!TopicFilter::from_static("+").matches(&TopicName::from_static("/finance")));
    /// ```
    pub fn matches(&self, name: &TopicName) -> bool {
        filter_matches(self, name)
    }
}
