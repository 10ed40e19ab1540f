//! The temporal asset registry: which asset sits where in the hierarchy, which device serves
//! it and who owns a site, each with a validity `[from, to)`, so that "where was this asset on
//! that date" and "which assets were under this feeder then" have exact answers.
//!
//! An asset is known by its leaf token (stable for its life: it may move between sites); its
//! full path at a time `t` is its site at `t` plus the leaf. History is append-only: a change
//! closes the current record at the change time and opens a new one, and a change may not be
//! dated before the start of the record it closes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use vpp_domain::{AssetPath, Level, NodePath, Token};

/// A validity `[from, to)`; `to == None` is open-ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validity {
    /// First instant.
    pub from: DateTime<Utc>,
    /// First instant after, if closed.
    pub to: Option<DateTime<Utc>>,
}

impl Validity {
    /// Whether `t` is in `[from, to)`.
    #[must_use]
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && self.to.is_none_or(|to| t < to)
    }
}

/// One dated fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record<T> {
    /// The fact.
    pub value: T,
    /// When it held.
    pub valid: Validity,
}

/// Why a registry change was refused (nothing changed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The asset was never registered.
    #[error("unknown asset {0}")]
    UnknownAsset(String),
    /// The asset is active already.
    #[error("asset {0} is registered already")]
    AlreadyActive(String),
    /// The asset is decommissioned (at that time).
    #[error("asset {asset} is not active at {at}")]
    NotActive {
        /// The asset.
        asset: String,
        /// The time of the change.
        at: String,
    },
    /// A change dated before the record it would close.
    #[error("change to {what} at {at} predates its current record (from {from})")]
    Retroactive {
        /// What was changed.
        what: String,
        /// The time of the change.
        at: String,
        /// Start of the current record.
        from: String,
    },
    /// A path of the wrong level.
    #[error("{0} is not a site path (region/substation/feeder/site)")]
    NotASite(String),
}

/// Everything the registry holds about one asset (the unit of persistence in a key-value
/// store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetRecords {
    /// Where it sat, oldest first.
    pub placements: Vec<Record<NodePath>>,
    /// Which device served it, oldest first.
    pub devices: Vec<Record<String>>,
}

/// The registry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Registry {
    placements: BTreeMap<Token, Vec<Record<NodePath>>>,
    devices: BTreeMap<Token, Vec<Record<String>>>,
    owners: BTreeMap<NodePath, Vec<Record<String>>>,
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339()
}

/// Closes the open record of `history` at `at` (refusing to go back in time) and opens `value`.
fn append<T>(
    history: &mut Vec<Record<T>>,
    what: &str,
    value: T,
    at: DateTime<Utc>,
) -> Result<(), RegistryError> {
    if let Some(last) = history.last_mut() {
        if at < last.valid.from || last.valid.to.is_some_and(|to| at < to) {
            return Err(RegistryError::Retroactive {
                what: what.to_owned(),
                at: rfc(at),
                from: rfc(last.valid.from),
            });
        }
        if last.valid.to.is_none() {
            last.valid.to = Some(at);
        }
    }
    history.push(Record {
        value,
        valid: Validity { from: at, to: None },
    });
    Ok(())
}

fn at_time<T>(history: &[Record<T>], t: DateTime<Utc>) -> Option<&T> {
    // Records are in time order; the last one starting at or before t is the candidate.
    let i = history.partition_point(|r| r.valid.from <= t);
    let r = history.get(i.checked_sub(1)?)?;
    r.valid.contains(t).then_some(&r.value)
}

fn site_of(path: &NodePath) -> Result<(), RegistryError> {
    if path.level() == Level::Site {
        Ok(())
    } else {
        Err(RegistryError::NotASite(path.to_string()))
    }
}

impl Registry {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Provisions `asset` (its full path) from `at`, served by the device `serial`.
    pub fn register(
        &mut self,
        asset: &AssetPath,
        serial: &str,
        at: DateTime<Utc>,
    ) -> Result<(), RegistryError> {
        let leaf = asset.leaf();
        if self.is_active(&leaf, at) {
            return Err(RegistryError::AlreadyActive(leaf.to_string()));
        }
        let site = asset.ancestor(Level::Site);
        let mut placements = self.placements.get(&leaf).cloned().unwrap_or_default();
        append(&mut placements, &format!("placement of {leaf}"), site, at)?;
        let mut devices = self.devices.get(&leaf).cloned().unwrap_or_default();
        append(
            &mut devices,
            &format!("device of {leaf}"),
            serial.to_owned(),
            at,
        )?;
        self.placements.insert(leaf.clone(), placements);
        self.devices.insert(leaf, devices);
        Ok(())
    }

    fn is_active(&self, leaf: &Token, at: DateTime<Utc>) -> bool {
        self.placements
            .get(leaf)
            .and_then(|h| h.last())
            .is_some_and(|r| r.valid.to.is_none_or(|to| at < to))
    }

    fn active_history(
        &mut self,
        leaf: &Token,
        at: DateTime<Utc>,
    ) -> Result<&mut Vec<Record<NodePath>>, RegistryError> {
        let active = self.is_active(leaf, at);
        let h = self
            .placements
            .get_mut(leaf)
            .ok_or_else(|| RegistryError::UnknownAsset(leaf.to_string()))?;
        if !active || h.last().is_some_and(|r| r.valid.to.is_some()) {
            return Err(RegistryError::NotActive {
                asset: leaf.to_string(),
                at: rfc(at),
            });
        }
        Ok(h)
    }

    /// Moves `leaf` to `site` from `at` (e.g. re-wired to another feeder).
    pub fn move_to(
        &mut self,
        leaf: &Token,
        site: NodePath,
        at: DateTime<Utc>,
    ) -> Result<(), RegistryError> {
        site_of(&site)?;
        let h = self.active_history(leaf, at)?;
        append(h, &format!("placement of {leaf}"), site, at)
    }

    /// Records that another device (`serial`) serves `leaf` from `at` (a battery replaced).
    pub fn replace_device(
        &mut self,
        leaf: &Token,
        serial: &str,
        at: DateTime<Utc>,
    ) -> Result<(), RegistryError> {
        self.active_history(leaf, at)?;
        let h = self
            .devices
            .get_mut(leaf)
            .ok_or_else(|| RegistryError::UnknownAsset(leaf.to_string()))?;
        append(h, &format!("device of {leaf}"), serial.to_owned(), at)
    }

    /// Takes `leaf` out of the fleet from `at`.
    pub fn decommission(&mut self, leaf: &Token, at: DateTime<Utc>) -> Result<(), RegistryError> {
        let h = self.active_history(leaf, at)?;
        let last = h.last_mut().expect("an active history has a record");
        if at < last.valid.from {
            return Err(RegistryError::Retroactive {
                what: format!("placement of {leaf}"),
                at: rfc(at),
                from: rfc(last.valid.from),
            });
        }
        last.valid.to = Some(at);
        if let Some(d) = self.devices.get_mut(leaf).and_then(|h| h.last_mut()) {
            d.valid.to.get_or_insert(at);
        }
        Ok(())
    }

    /// Records that `site` is owned by `owner` from `at`.
    pub fn set_owner(
        &mut self,
        site: NodePath,
        owner: &str,
        at: DateTime<Utc>,
    ) -> Result<(), RegistryError> {
        site_of(&site)?;
        let what = format!("owner of {site}");
        append(
            self.owners.entry(site).or_default(),
            &what,
            owner.to_owned(),
            at,
        )
    }

    /// The full path of `leaf` at `t`, if it was in the fleet then.
    #[must_use]
    pub fn path_of(&self, leaf: &Token, t: DateTime<Utc>) -> Option<AssetPath> {
        let site = at_time(self.placements.get(leaf)?, t)?;
        let node = site.child(leaf.clone()).ok()?;
        AssetPath::try_from(node).ok()
    }

    /// The device serving `leaf` at `t`.
    #[must_use]
    pub fn device_of(&self, leaf: &Token, t: DateTime<Utc>) -> Option<&str> {
        at_time(self.devices.get(leaf)?, t).map(String::as_str)
    }

    /// The owner of `site` at `t`.
    #[must_use]
    pub fn owner_of(&self, site: &NodePath, t: DateTime<Utc>) -> Option<&str> {
        at_time(self.owners.get(site)?, t).map(String::as_str)
    }

    /// Every asset under `node` (any level, the root included) at `t`, sorted.
    #[must_use]
    pub fn members(&self, node: &NodePath, t: DateTime<Utc>) -> Vec<AssetPath> {
        let mut out: Vec<AssetPath> = self
            .placements
            .keys()
            .filter_map(|leaf| self.path_of(leaf, t))
            .filter(|p| p.is_under(node))
            .collect();
        out.sort();
        out
    }

    /// Everything held about `leaf`.
    #[must_use]
    pub fn records(&self, leaf: &Token) -> Option<AssetRecords> {
        Some(AssetRecords {
            placements: self.placements.get(leaf)?.clone(),
            devices: self.devices.get(leaf).cloned().unwrap_or_default(),
        })
    }

    /// Puts back what was persisted about `leaf` (replacing what is held).
    pub fn restore(&mut self, leaf: Token, records: AssetRecords) {
        self.devices.insert(leaf.clone(), records.devices);
        self.placements.insert(leaf, records.placements);
    }

    /// The placement history of `leaf`, oldest first.
    #[must_use]
    pub fn history(&self, leaf: &Token) -> &[Record<NodePath>] {
        self.placements.get(leaf).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone};

    fn day(d: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + TimeDelta::days(d)
    }

    fn tok(s: &str) -> Token {
        Token::new(s).unwrap()
    }

    fn node(s: &str) -> NodePath {
        s.parse().unwrap()
    }

    fn fleet() -> Registry {
        let mut r = Registry::new();
        r.register(&"r/s/fa/site1/b1".parse().unwrap(), "SN-1", day(0))
            .unwrap();
        r.register(&"r/s/fa/site1/b2".parse().unwrap(), "SN-2", day(0))
            .unwrap();
        r.register(&"r/s/fb/site2/b3".parse().unwrap(), "SN-3", day(5))
            .unwrap();
        r
    }

    #[test]
    fn as_of_queries_follow_a_move_between_feeders() {
        let mut r = fleet();
        r.move_to(&tok("b2"), node("r/s/fb/site2"), day(10))
            .unwrap();
        assert_eq!(
            r.path_of(&tok("b2"), day(9)).unwrap().to_string(),
            "r/s/fa/site1/b2"
        );
        assert_eq!(
            r.path_of(&tok("b2"), day(10)).unwrap().to_string(),
            "r/s/fb/site2/b2"
        );
        let fa = |t| r.members(&node("r/s/fa"), t).len();
        let fb = |t| r.members(&node("r/s/fb"), t).len();
        assert_eq!((fa(day(9)), fb(day(9))), (2, 1));
        assert_eq!((fa(day(10)), fb(day(10))), (1, 2));
        assert_eq!(
            r.members(&node("r/s/fb"), day(1)).len(),
            0,
            "b3 came on day 5"
        );
        assert_eq!(r.members(&NodePath::root(), day(10)).len(), 3);
        assert_eq!(r.history(&tok("b2")).len(), 2);
    }

    #[test]
    fn replacements_decommissions_and_owners_are_dated() {
        let mut r = fleet();
        r.replace_device(&tok("b1"), "SN-1b", day(20)).unwrap();
        assert_eq!(r.device_of(&tok("b1"), day(19)), Some("SN-1"));
        assert_eq!(r.device_of(&tok("b1"), day(20)), Some("SN-1b"));
        r.decommission(&tok("b1"), day(30)).unwrap();
        assert!(r.path_of(&tok("b1"), day(29)).is_some());
        assert!(r.path_of(&tok("b1"), day(30)).is_none());
        assert_eq!(r.device_of(&tok("b1"), day(31)), None);
        r.set_owner(node("r/s/fa/site1"), "alice", day(0)).unwrap();
        r.set_owner(node("r/s/fa/site1"), "bob", day(40)).unwrap();
        assert_eq!(r.owner_of(&node("r/s/fa/site1"), day(39)), Some("alice"));
        assert_eq!(r.owner_of(&node("r/s/fa/site1"), day(40)), Some("bob"));
        // Re-provisioned later, elsewhere.
        r.register(&"r/s/fb/site2/b1".parse().unwrap(), "SN-1c", day(50))
            .unwrap();
        assert_eq!(
            r.path_of(&tok("b1"), day(25)).unwrap().to_string(),
            "r/s/fa/site1/b1"
        );
        assert_eq!(
            r.path_of(&tok("b1"), day(50)).unwrap().to_string(),
            "r/s/fb/site2/b1"
        );
    }

    #[test]
    fn bad_changes_are_refused_and_change_nothing() {
        let mut r = fleet();
        let before = r.clone();
        assert!(matches!(
            r.register(&"r/s/fa/site1/b1".parse().unwrap(), "SN-x", day(1)),
            Err(RegistryError::AlreadyActive(_))
        ));
        assert!(matches!(
            r.move_to(&tok("nope"), node("r/s/fa/site1"), day(1)),
            Err(RegistryError::UnknownAsset(_))
        ));
        assert!(matches!(
            r.move_to(&tok("b3"), node("r/s/fa/site1"), day(2)),
            Err(RegistryError::Retroactive { .. })
        ));
        assert!(matches!(
            r.move_to(&tok("b1"), node("r/s/fa"), day(2)),
            Err(RegistryError::NotASite(_))
        ));
        assert_eq!(r, before);
        r.decommission(&tok("b2"), day(3)).unwrap();
        assert!(matches!(
            r.move_to(&tok("b2"), node("r/s/fa/site1"), day(4)),
            Err(RegistryError::NotActive { .. })
        ));
    }

    #[test]
    fn per_asset_records_restore_the_same_answers() {
        let mut r = fleet();
        r.move_to(&tok("b2"), node("r/s/fb/site2"), day(10))
            .unwrap();
        let mut copy = Registry::new();
        for leaf in ["b1", "b2", "b3"] {
            copy.restore(tok(leaf), r.records(&tok(leaf)).unwrap());
        }
        assert_eq!(
            copy.members(&NodePath::root(), day(9)),
            r.members(&NodePath::root(), day(9))
        );
        assert_eq!(
            copy.path_of(&tok("b2"), day(11)),
            r.path_of(&tok("b2"), day(11))
        );
        assert!(r.records(&tok("nope")).is_none());
    }

    #[test]
    fn the_registry_round_trips_through_json() {
        let mut r = fleet();
        r.move_to(&tok("b2"), node("r/s/fb/site2"), day(10))
            .unwrap();
        let json = serde_json::to_string(&r).unwrap();
        let back: Registry = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }
}
