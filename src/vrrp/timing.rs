//! Protocol time: advert intervals in centiseconds, and the RFC formulas derived from them.
//!
//! Every duration the state machine computes comes from the functions here, so the
//! v2 and v3 formulas live in exactly one place.

use std::fmt;
use std::time::Duration;

use super::Version;

/// A VRRP advertisement interval in centiseconds, the unit VRRPv3 carries on the wire.
///
/// VRRPv2 intervals are whole seconds (1..=255 s, i.e. 100..=25500 cs); VRRPv3 intervals are
/// 1..=4095 cs (10 ms to 40.95 s). [`Centis::check`] says whether a value is valid for a
/// version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Centis(u16);

/// Why an interval is not valid for a protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IntervalError {
    /// VRRPv2 carries whole seconds only.
    #[error("VRRPv2 advert intervals are whole seconds from 1s to 255s, got {0}")]
    V2NotWholeSeconds(Centis),
    /// Outside 1..=255 s.
    #[error("VRRPv2 advert intervals are 1s to 255s, got {0}")]
    V2OutOfRange(Centis),
    /// Outside 10 ms..=40.95 s.
    #[error("VRRPv3 advert intervals are 10ms to 40.95s in 10ms steps, got {0}")]
    V3OutOfRange(Centis),
}

/// The default number of missed adverts before a Backup declares the Master down.
pub const DEFAULT_DOWN_ADVERTS: u32 = 3;

impl Centis {
    /// The VRRP default interval: one second.
    pub const ONE_SECOND: Centis = Centis(100);
    /// The largest VRRPv3 interval (the 12-bit wire field).
    pub const V3_MAX: Centis = Centis(4095);

    /// An interval of `cs` centiseconds.
    pub const fn new(cs: u16) -> Self {
        Centis(cs)
    }

    /// A whole number of seconds, as VRRPv2 carries it.
    pub const fn from_secs(s: u8) -> Self {
        Centis(s as u16 * 100)
    }

    /// The interval as centiseconds.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// The interval as a [`Duration`].
    pub const fn as_duration(self) -> Duration {
        Duration::from_millis(self.0 as u64 * 10)
    }

    /// Converts a duration that is a whole number of centiseconds; `None` if it is not, or
    /// does not fit.
    pub fn from_duration(d: Duration) -> Option<Self> {
        let nanos = d.as_nanos();
        if nanos % 10_000_000 != 0 {
            return None;
        }
        u16::try_from(nanos / 10_000_000).ok().map(Centis)
    }

    /// Checks that the interval can be sent by `version`.
    pub fn check(self, version: Version) -> Result<(), IntervalError> {
        match version {
            Version::V2 if self.0 % 100 != 0 => Err(IntervalError::V2NotWholeSeconds(self)),
            Version::V2 if !(100..=25500).contains(&self.0) => {
                Err(IntervalError::V2OutOfRange(self))
            }
            Version::V3 if !(1..=4095).contains(&self.0) => Err(IntervalError::V3OutOfRange(self)),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Centis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 % 100 == 0 {
            write!(f, "{}s", self.0 / 100)
        } else {
            write!(f, "{}ms", self.0 as u32 * 10)
        }
    }
}

/// Skew_Time: how much longer a lower-priority Backup waits than a higher one.
///
/// VRRPv2 (RFC 3768 §6.1): `(256 - priority) / 256` seconds, whatever the interval.
/// VRRPv3 (RFC 9568 §6.1): `((256 - priority) * Master_Adver_Interval) / 256`.
pub fn skew_time(version: Version, priority: u8, master_adver_interval: Centis) -> Duration {
    let weight = 256 - u64::from(priority);
    match version {
        Version::V2 => Duration::from_nanos(weight * 1_000_000_000 / 256),
        Version::V3 => {
            Duration::from_nanos(weight * u64::from(master_adver_interval.0) * 10_000_000 / 256)
        }
    }
}

/// Master_Down_Interval: `adverts * Master_Adver_Interval + Skew_Time` (the RFC's `adverts`
/// is 3; keepalived and vipd let it be configured).
pub fn master_down_interval(
    version: Version,
    priority: u8,
    master_adver_interval: Centis,
    adverts: u32,
) -> Duration {
    master_adver_interval.as_duration() * adverts
        + skew_time(version, priority, master_adver_interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_skew_ignores_the_interval() {
        // RFC 3768: priority 100 -> 156/256 s = 609.375 ms.
        assert_eq!(
            skew_time(Version::V2, 100, Centis::from_secs(1)),
            Duration::from_micros(609_375)
        );
        assert_eq!(
            skew_time(Version::V2, 100, Centis::from_secs(5)),
            Duration::from_micros(609_375)
        );
        assert_eq!(
            skew_time(Version::V2, 255, Centis::from_secs(1)),
            Duration::from_micros(3_906) + Duration::from_nanos(250)
        );
    }

    #[test]
    fn v3_skew_scales_with_the_interval() {
        // 156 * 100 cs / 256 = 60.9375 cs = 609.375 ms at 1 s; 60.9375 ms at 100 ms.
        assert_eq!(
            skew_time(Version::V3, 100, Centis::new(100)),
            Duration::from_micros(609_375)
        );
        assert_eq!(
            skew_time(Version::V3, 100, Centis::new(10)),
            Duration::from_nanos(60_937_500)
        );
        assert_eq!(
            skew_time(Version::V3, 254, Centis::new(1)),
            Duration::from_nanos(78_125)
        );
    }

    #[test]
    fn master_down_interval_matches_keepalived_reference() {
        // keepalived 2.2.7, v2 1 s, Backup priority 100: new Master's first advert came
        // 3609.6 ms after the killed one's last (the first failover benchmark's reference).
        assert_eq!(
            master_down_interval(Version::V2, 100, Centis::from_secs(1), 3),
            Duration::from_micros(3_609_375)
        );
        assert_eq!(
            master_down_interval(Version::V3, 100, Centis::new(10), 3),
            Duration::from_nanos(360_937_500)
        );
        assert_eq!(
            master_down_interval(Version::V3, 100, Centis::new(10), 5),
            Duration::from_nanos(560_937_500)
        );
    }

    #[test]
    fn interval_validity_per_version() {
        assert!(Centis::from_secs(1).check(Version::V2).is_ok());
        assert!(Centis::from_secs(255).check(Version::V2).is_ok());
        assert_eq!(
            Centis::new(50).check(Version::V2),
            Err(IntervalError::V2NotWholeSeconds(Centis::new(50)))
        );
        assert_eq!(
            Centis::new(0).check(Version::V2),
            Err(IntervalError::V2OutOfRange(Centis::new(0)))
        );
        assert!(Centis::new(1).check(Version::V3).is_ok());
        assert!(Centis::new(4095).check(Version::V3).is_ok());
        assert_eq!(
            Centis::new(4096).check(Version::V3),
            Err(IntervalError::V3OutOfRange(Centis::new(4096)))
        );
        assert_eq!(
            Centis::new(0).check(Version::V3),
            Err(IntervalError::V3OutOfRange(Centis::new(0)))
        );
    }

    #[test]
    fn duration_conversion_is_exact_or_refused() {
        assert_eq!(
            Centis::from_duration(Duration::from_millis(100)),
            Some(Centis::new(10))
        );
        assert_eq!(Centis::from_duration(Duration::from_millis(105)), None);
        assert_eq!(Centis::new(10).to_string(), "100ms");
        assert_eq!(Centis::new(200).to_string(), "2s");
    }
}
