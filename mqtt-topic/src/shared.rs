//! Shared subscriptions: `$share/{ShareName}/{filter}` (v5 section 4.8.2).

use core::fmt;

use mqtt_codec::MqttString;

use crate::{TopicError, TopicFilter};

/// The prefix of a shared subscription's topic filter (v5 [MQTT-4.8.2-1]). Case-sensitive,
/// like every topic comparison: `$SHARE/g/a` is an ordinary filter.
const SHARE_PREFIX: &str = "$share/";

/// A shared subscription `$share/{ShareName}/{filter}`: the sessions subscribed with the same
/// ShareName and filter receive each matching message once between them (v5 section 4.8.2).
///
/// The ShareName is at least one character long (v5 [MQTT-4.8.2-1]) and contains none of
/// `/`, `+`, `#`; it is followed by `/` and a valid topic filter (v5 [MQTT-4.8.2-2]). Both
/// parts are slices of the subscribed string, not copies. Messages are matched against
/// [`filter`](Self::filter) alone: `$share/g/#` receives what `#` receives.
///
/// ```
/// use mqtt_codec::MqttString;
/// use mqtt_topic::{SharedSubscription, TopicError};
///
/// let subscribed = MqttString::from_static("$share/consumer1/sport/tennis/+");
/// let shared = SharedSubscription::parse(&subscribed)?.expect("starts with $share/");
/// assert_eq!(shared.share_name(), "consumer1");
/// assert_eq!(shared.filter().as_str(), "sport/tennis/+");
///
/// // Not a shared subscription: an ordinary topic filter.
/// assert_eq!(SharedSubscription::parse(&MqttString::from_static("sport/#")), Ok(None));
/// // A ShareName must not contain wildcards, and must be followed by a filter.
/// let err = SharedSubscription::parse(&MqttString::from_static("$share/g+/a"));
/// assert_eq!(err, Err(TopicError::InvalidShareName));
/// let err = SharedSubscription::parse(&MqttString::from_static("$share/g"));
/// assert_eq!(err, Err(TopicError::MissingSharedFilter));
/// # Ok::<(), TopicError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SharedSubscription {
    share_name: MqttString,
    filter: TopicFilter,
}

impl SharedSubscription {
    /// Parses a subscribed topic filter as a shared subscription.
    ///
    /// Returns `Ok(None)` when `filter` does not start with `$share/`: it is then an ordinary
    /// topic filter, for [`TopicFilter::new`]. Call this first: `TopicFilter::new` accepts
    /// some strings that are invalid shared subscriptions (`$share/+/a`, `$share/#`).
    ///
    /// The ShareName ends at the first `/` after `$share/`, so it cannot contain one. A filter
    /// that itself starts with `$share/` (`$share/g/$share/h/a`) is accepted as the ordinary
    /// filter `$share/h/a`: the specification does not forbid it.
    ///
    /// # Errors
    /// [`TopicError::InvalidShareName`] for an empty ShareName or one with `+` or `#`,
    /// [`TopicError::MissingSharedFilter`] when no `/` or an empty filter follows it, and any
    /// error of [`TopicFilter::new`] for the filter after it.
    ///
    /// ```
    /// use mqtt_codec::MqttString;
    /// use mqtt_topic::{SharedSubscription, TopicError};
    ///
    /// let subscribed = MqttString::from_static("$share/g/a/b");
    /// let shared = SharedSubscription::parse(&subscribed)?.unwrap();
    /// // Zero-copy: both parts point into the subscribed string.
    /// assert_eq!(shared.filter().as_str().as_ptr(), subscribed.as_str()[9..].as_ptr());
    ///
    /// for (invalid, err) in [
    ///     ("$share//a", TopicError::InvalidShareName),
    ///     ("$share/g/", TopicError::MissingSharedFilter),
    ///     ("$share/g/a#", TopicError::InvalidMultiLevelWildcard),
    /// ] {
    ///     let invalid = MqttString::from_static(invalid);
    ///     assert_eq!(SharedSubscription::parse(&invalid), Err(err));
    /// }
    /// # Ok::<(), TopicError>(())
    /// ```
    pub fn parse(filter: &MqttString) -> Result<Option<Self>, TopicError> {
        let Some(rest) = filter.as_str().strip_prefix(SHARE_PREFIX) else {
            return Ok(None);
        };
        let name_start = SHARE_PREFIX.len();
        let name_end = rest.find('/').map_or(filter.len(), |i| name_start + i);
        // v5 [MQTT-4.8.2-1], [MQTT-4.8.2-2].
        let share_name = &filter.as_str()[name_start..name_end];
        if share_name.is_empty() || share_name.contains(['+', '#']) {
            return Err(TopicError::InvalidShareName);
        }
        // "MUST be followed by a "/" character. This "/" character MUST be followed by a
        // Topic Filter" (v5 [MQTT-4.8.2-2]), and a topic filter is never empty.
        let filter_start = name_end + 1;
        if filter_start >= filter.len() {
            return Err(TopicError::MissingSharedFilter);
        }
        // Both ranges are bounded by '/' (ASCII) or the ends of the string: always on
        // character boundaries.
        let share_name = filter
            .slice(name_start..name_end)
            .expect("the ShareName lies between ASCII '/' characters");
        let inner = filter
            .slice(filter_start..filter.len())
            .expect("the filter starts after an ASCII '/'");
        Ok(Some(Self {
            share_name,
            filter: TopicFilter::new(inner)?,
        }))
    }

    /// The ShareName, a slice of the subscribed string.
    pub fn share_name(&self) -> &MqttString {
        &self.share_name
    }

    /// The topic filter that messages are matched against, a slice of the subscribed string.
    pub fn filter(&self) -> &TopicFilter {
        &self.filter
    }

    /// The ShareName and the topic filter.
    pub fn into_parts(self) -> (MqttString, TopicFilter) {
        (self.share_name, self.filter)
    }
}

/// The subscribed form, `$share/{ShareName}/{filter}`.
impl fmt::Display for SharedSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SHARE_PREFIX}{}/{}", self.share_name, self.filter)
    }
}
