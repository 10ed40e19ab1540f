//! The asset hierarchy: `region/substation/feeder/site/asset` paths.
//!
//! Every segment is a [`Token`]: 1 to 64 characters from `[A-Za-z0-9_-]`, so that it can be used
//! as-is in a NATS subject (design.md §3, §5). A [`NodePath`] names any node of the hierarchy, from
//! the fleet root (no segments) down to a single asset (five segments); an [`AssetPath`] always has
//! all five.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// Longest allowed token.
const MAX_TOKEN_LEN: usize = 64;

/// One NATS-token-safe path segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct Token(String);

impl Serialize for Token {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl Token {
    /// Checked constructor.
    pub fn new(token: impl Into<String>) -> Result<Self, DomainError> {
        let token = token.into();
        let reason = if token.is_empty() {
            Some("must not be empty")
        } else if token.len() > MAX_TOKEN_LEN {
            Some("must be at most 64 characters")
        } else if !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            Some("may only contain A-Z, a-z, 0-9, '_' and '-'")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(DomainError::InvalidToken { token, reason }),
            None => Ok(Self(token)),
        }
    }

    /// The token text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Token {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, DomainError> {
        Self::new(value)
    }
}

impl From<Token> for String {
    fn from(value: Token) -> String {
        value.0
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Depth of a node in the hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The whole VPP (the root; no segments).
    Fleet,
    /// `region`.
    Region,
    /// `region/substation`.
    Substation,
    /// `region/substation/feeder`.
    Feeder,
    /// `region/substation/feeder/site`.
    Site,
    /// `region/substation/feeder/site/asset`.
    Asset,
}

impl Level {
    /// Every level, root first.
    pub const ALL: [Self; 6] = [
        Self::Fleet,
        Self::Region,
        Self::Substation,
        Self::Feeder,
        Self::Site,
        Self::Asset,
    ];

    /// The number of path segments at this level.
    #[must_use]
    pub fn depth(self) -> usize {
        self as usize
    }
}

fn split_tokens(path: &str) -> Result<Vec<Token>, DomainError> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    path.split('/').map(Token::new).collect()
}

/// Any node of the hierarchy: the fleet root (empty path) down to an asset.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Deserialize)]
#[serde(try_from = "String")]
pub struct NodePath(Vec<Token>);

impl Serialize for NodePath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl NodePath {
    /// The fleet root.
    #[must_use]
    pub fn root() -> Self {
        Self(Vec::new())
    }

    /// Builds a path from validated segments (at most five).
    pub fn from_tokens(tokens: Vec<Token>) -> Result<Self, DomainError> {
        if tokens.len() > Level::Asset.depth() {
            return Err(DomainError::PathDepth {
                path: tokens
                    .iter()
                    .map(Token::as_str)
                    .collect::<Vec<_>>()
                    .join("/"),
                found: tokens.len(),
                expected: "0 to 5",
            });
        }
        Ok(Self(tokens))
    }

    /// The segments, root first.
    #[must_use]
    pub fn tokens(&self) -> &[Token] {
        &self.0
    }

    /// This node's level.
    #[must_use]
    pub fn level(&self) -> Level {
        Level::ALL[self.0.len()]
    }

    /// The parent node, or `None` at the root.
    #[must_use]
    pub fn parent(&self) -> Option<Self> {
        let (_, init) = self.0.split_last()?;
        Some(Self(init.to_vec()))
    }

    /// A child of this node, or an error below asset level.
    pub fn child(&self, token: Token) -> Result<Self, DomainError> {
        let mut tokens = self.0.clone();
        tokens.push(token);
        Self::from_tokens(tokens)
    }

    /// Whether `self` is `other` or one of its ancestors.
    #[must_use]
    pub fn contains(&self, other: &Self) -> bool {
        other.0.starts_with(&self.0)
    }
}

impl FromStr for NodePath {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        Self::from_tokens(split_tokens(s)?)
    }
}

impl TryFrom<String> for NodePath {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, DomainError> {
        value.parse()
    }
}

impl From<NodePath> for String {
    fn from(value: NodePath) -> String {
        value.to_string()
    }
}

impl fmt::Display for NodePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            f.write_str(t.as_str())?;
        }
        Ok(())
    }
}

/// The full path of one asset: `region/substation/feeder/site/asset`.
///
/// Stored compactly as its text (shared: a clone is a reference-count increment, no
/// allocation) plus the end of each segment; equality, hashing and ordering look at the text,
/// which determines the segments. Millions of twins, samples and index entries carry one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct AssetPath {
    text: std::sync::Arc<str>,
    ends: [u16; 5],
}

impl Serialize for AssetPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl AssetPath {
    /// Builds an asset path from its five segments.
    pub fn new(
        region: &str,
        substation: &str,
        feeder: &str,
        site: &str,
        asset: &str,
    ) -> Result<Self, DomainError> {
        let tokens = [region, substation, feeder, site, asset]
            .into_iter()
            .map(Token::new)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::from_tokens(&tokens))
    }

    fn from_tokens(tokens: &[Token]) -> Self {
        let mut text = String::with_capacity(tokens.iter().map(|t| t.0.len() + 1).sum());
        let mut ends = [0u16; 5];
        for (i, t) in tokens.iter().enumerate() {
            if i > 0 {
                text.push('/');
            }
            text.push_str(&t.0);
            // At most 5 × 64 + 4 bytes: fits a u16.
            ends[i] = text.len() as u16;
        }
        Self {
            text: text.into(),
            ends,
        }
    }

    /// The path as text, `region/substation/feeder/site/asset`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn segment(&self, level: Level) -> &str {
        let i = level.depth() - 1;
        let start = if i == 0 {
            0
        } else {
            usize::from(self.ends[i - 1]) + 1
        };
        &self.text[start..usize::from(self.ends[i])]
    }

    /// `region` segment.
    #[must_use]
    pub fn region(&self) -> &str {
        self.segment(Level::Region)
    }

    /// `site` segment.
    #[must_use]
    pub fn site(&self) -> &str {
        self.segment(Level::Site)
    }

    /// `asset` segment (the leaf).
    #[must_use]
    pub fn asset(&self) -> &str {
        self.segment(Level::Asset)
    }

    /// The leaf as a token (the asset's stable identity as it moves between sites).
    #[must_use]
    pub fn leaf(&self) -> Token {
        Token(self.asset().to_owned())
    }

    /// The asset as a node of the hierarchy.
    #[must_use]
    pub fn node(&self) -> NodePath {
        self.ancestor(Level::Asset)
    }

    /// The ancestor of this asset at `level` (the asset itself at [`Level::Asset`]).
    #[must_use]
    pub fn ancestor(&self, level: Level) -> NodePath {
        let d = level.depth();
        if d == 0 {
            return NodePath::root();
        }
        let prefix = &self.text[..usize::from(self.ends[d - 1])];
        NodePath(prefix.split('/').map(|t| Token(t.to_owned())).collect())
    }

    /// Whether the asset sits under `node` (or is it).
    #[must_use]
    pub fn is_under(&self, node: &NodePath) -> bool {
        let d = node.0.len();
        d == 0
            || (d <= 5
                && node
                    .0
                    .iter()
                    .enumerate()
                    .all(|(i, t)| self.segment(Level::ALL[i + 1]) == t.as_str()))
    }
}

impl TryFrom<NodePath> for AssetPath {
    type Error = DomainError;
    fn try_from(node: NodePath) -> Result<Self, DomainError> {
        if node.level() == Level::Asset {
            Ok(Self::from_tokens(&node.0))
        } else {
            Err(DomainError::PathDepth {
                path: node.to_string(),
                found: node.0.len(),
                expected: "5",
            })
        }
    }
}

impl FromStr for AssetPath {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        let tokens = split_tokens(s)?;
        if tokens.len() != Level::Asset.depth() {
            return Err(DomainError::PathDepth {
                path: s.to_owned(),
                found: tokens.len(),
                expected: "5",
            });
        }
        Ok(Self::from_tokens(&tokens))
    }
}

impl TryFrom<String> for AssetPath {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, DomainError> {
        value.parse()
    }
}

impl From<AssetPath> for String {
    fn from(value: AssetPath) -> String {
        value.text.to_string()
    }
}

impl fmt::Display for AssetPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_paths_round_trip_and_expose_ancestors() {
        let p: AssetPath = "north/sub-1/feeder_2/site-0007/bat-1".parse().unwrap();
        assert_eq!(p.to_string(), "north/sub-1/feeder_2/site-0007/bat-1");
        assert_eq!(p.region(), "north");
        assert_eq!(p.site(), "site-0007");
        assert_eq!(p.asset(), "bat-1");
        assert_eq!(p.leaf().as_str(), "bat-1");
        assert_eq!(
            p.ancestor(Level::Feeder).to_string(),
            "north/sub-1/feeder_2"
        );
        assert_eq!(p.ancestor(Level::Fleet), NodePath::root());
        assert_eq!(p.node().level(), Level::Asset);
        assert!(p.ancestor(Level::Substation).contains(&p.node()));
        assert!(p.is_under(&p.ancestor(Level::Feeder)));
        assert!(p.is_under(&NodePath::root()));
        assert!(!p.is_under(&"north/sub-2".parse().unwrap()));
        assert!(p.is_under(&p.node()));
    }

    #[test]
    fn tokens_reject_nats_wildcards_separators_and_whitespace() {
        for bad in ["", "a.b", "a*", ">", "a b", "é", &"x".repeat(65)] {
            assert!(Token::new(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(Token::new("A-z_09").is_ok());
    }

    #[test]
    fn asset_path_needs_five_segments() {
        let err = "a/b/c/d".parse::<AssetPath>().unwrap_err();
        assert!(matches!(err, DomainError::PathDepth { found: 4, .. }));
        assert!("a/b/c/d/e/f".parse::<NodePath>().is_err());
        assert!("a//c".parse::<NodePath>().is_err());
    }

    #[test]
    fn node_paths_walk_up_and_down() {
        let feeder: NodePath = "r/s/f".parse().unwrap();
        assert_eq!(feeder.level(), Level::Feeder);
        assert_eq!(feeder.parent().unwrap().to_string(), "r/s");
        let site = feeder.child(Token::new("x").unwrap()).unwrap();
        assert_eq!(site.to_string(), "r/s/f/x");
        assert_eq!(NodePath::root().parent(), None);
        assert_eq!("".parse::<NodePath>().unwrap(), NodePath::root());
    }

    #[test]
    fn serde_validates_paths() {
        let ok: AssetPath = serde_json::from_str("\"r/s/f/x/b\"").unwrap();
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"r/s/f/x/b\"");
        assert!(serde_json::from_str::<AssetPath>("\"r/s/f/x/b.c\"").is_err());
    }
}
