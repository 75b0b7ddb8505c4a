//! Topic filters: what a client subscribes to, with the wildcards `+` and `#`.

use mqtt_codec::MqttString;

use crate::TopicError;

/// A topic filter: at least one character [MQTT-4.7.3-1], `+` only as a whole level
/// (3.1.1 [MQTT-4.7.1-3], v5 [MQTT-4.7.1-2]) and `#` only as the whole last level
/// (3.1.1 [MQTT-4.7.1-2], v5 [MQTT-4.7.1-1]).
///
/// A validated [`MqttString`] (so also without U+0000 [MQTT-4.7.3-2] and at most 65,535
/// bytes [MQTT-4.7.3-3]), wrapped without copying. Equality is byte equality, as UNSUBSCRIBE
/// compares filters, and nothing is normalised [MQTT-4.7.3-4].
///
/// A shared subscription `$share/{ShareName}/{filter}` is a valid `TopicFilter` too (it is
/// just levels), but not every valid one is a valid shared subscription: `$share/+/a` passes
/// here. Parse a subscribed string with [`SharedSubscription::parse`] first, and build a
/// `TopicFilter` from it only when that returns `Ok(None)`.
///
/// [`SharedSubscription::parse`]: crate::SharedSubscription::parse
///
/// ```
/// use mqtt_codec::MqttString;
/// use mqtt_topic::{TopicError, TopicFilter};
///
/// let filter = TopicFilter::new(MqttString::from_static("sport/+/player1"))?;
/// assert!(filter.has_wildcards());
///
/// assert_eq!(TopicFilter::try_from("sport+"), Err(TopicError::InvalidSingleLevelWildcard));
/// assert_eq!(
///     TopicFilter::try_from("sport/tennis/#/ranking"),
///     Err(TopicError::InvalidMultiLevelWildcard),
/// );
/// # Ok::<(), TopicError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicFilter(MqttString);

impl TopicFilter {
    /// Validates `filter` as a topic filter without copying it.
    ///
    /// # Errors
    /// [`TopicError::Empty`] for an empty string,
    /// [`TopicError::InvalidSingleLevelWildcard`] for a `+` that is not a whole level,
    /// [`TopicError::InvalidMultiLevelWildcard`] for a `#` that is not the whole last level.
    ///
    /// ```
    /// use mqtt_codec::MqttString;
    /// use mqtt_topic::{TopicError, TopicFilter};
    ///
    /// for valid in ["#", "+", "sport/tennis/#", "+/tennis/#", "sport/+/player1", "//"] {
    ///     assert!(TopicFilter::new(MqttString::from_static(valid)).is_ok(), "{valid}");
    /// }
    /// let err = TopicFilter::new(MqttString::from_static("sport/tennis#"));
    /// assert_eq!(err, Err(TopicError::InvalidMultiLevelWildcard));
    /// ```
    pub fn new(filter: MqttString) -> Result<Self, TopicError> {
        check_filter(filter.as_bytes())?;
        Ok(Self(filter))
    }

    /// A topic filter from a `'static` literal, checked (at compile time in a `const`) and
    /// never copied.
    ///
    /// # Panics
    /// If `filter` is not a valid topic filter (see [`TopicFilter::new`]), contains U+0000 or
    /// is longer than 65,535 bytes: a programming error in a literal, never reachable from
    /// network input. In a `const` item the panic is a compile error.
    ///
    /// ```
    /// use mqtt_topic::TopicFilter;
    ///
    /// const ALL_SYS: TopicFilter = TopicFilter::from_static("$SYS/#");
    /// assert!(ALL_SYS.has_wildcards());
    /// ```
    ///
    /// ```should_panic
    /// use mqtt_topic::TopicFilter;
    ///
    /// let _ = TopicFilter::from_static("sport+");
    /// ```
    pub const fn from_static(filter: &'static str) -> Self {
        match check_filter(filter.as_bytes()) {
            Ok(()) => Self(MqttString::from_static(filter)),
            Err(TopicError::Empty) => panic!("a topic filter is at least one character long"),
            Err(TopicError::InvalidSingleLevelWildcard) => {
                panic!("`+` must occupy a whole level of a topic filter")
            }
            Err(_) => panic!("`#` must be alone in the last level of a topic filter"),
        }
    }

    /// Whether the filter contains a wildcard `+` or `#`; one without matches exactly one
    /// topic name, itself.
    ///
    /// ```
    /// use mqtt_topic::TopicFilter;
    ///
    /// assert!(TopicFilter::from_static("sport/+").has_wildcards());
    /// assert!(!TopicFilter::from_static("sport/tennis").has_wildcards());
    /// ```
    pub fn has_wildcards(&self) -> bool {
        self.0.has_wildcard()
    }

    /// Whether the first character is a wildcard: such a filter never matches a topic name
    /// starting with `$` [MQTT-4.7.2-1].
    ///
    /// ```
    /// use mqtt_topic::TopicFilter;
    ///
    /// assert!(TopicFilter::from_static("+/monitor/Clients").starts_with_wildcard());
    /// assert!(!TopicFilter::from_static("$SYS/#").starts_with_wildcard());
    /// ```
    pub fn starts_with_wildcard(&self) -> bool {
        matches!(self.0.as_bytes().first(), Some(b'+' | b'#'))
    }
}

/// The rules of [`TopicFilter::new`], a `const fn` for [`TopicFilter::from_static`].
///
/// Byte by byte: `/`, `+` and `#` are ASCII, so no byte of a multi-byte UTF-8 character can
/// be mistaken for them.
const fn check_filter(bytes: &[u8]) -> Result<(), TopicError> {
    if bytes.is_empty() {
        return Err(TopicError::Empty);
    }
    let last = bytes.len() - 1;
    let mut i = 0;
    while i < bytes.len() {
        let starts_level = i == 0 || bytes[i - 1] == b'/';
        match bytes[i] {
            b'+' if !(starts_level && (i == last || bytes[i + 1] == b'/')) => {
                return Err(TopicError::InvalidSingleLevelWildcard);
            }
            b'#' if !(starts_level && i == last) => {
                return Err(TopicError::InvalidMultiLevelWildcard);
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

crate::topic_string_impls!(TopicFilter, "a topic filter", "sport/+/player1");
