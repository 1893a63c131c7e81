//! Reading a large dynamic YAML file again, element by element: its text is
//! cut into the blocks of its HTTP elements (`http.routers.<name>`, ...),
//! each known by a hash of its text. A block seen in the file's last parse
//! takes its element from that parse; only new or changed blocks are parsed
//! (each alone, its lines numbered as in the file). Whatever the cut cannot
//! be sure of (flow style around the elements, anchors and aliases, several
//! documents, an `http` key other than the four element kinds, a name that
//! is quoted or given twice, an error in a block, many changed blocks) is
//! parsed whole, exactly as [`crate::loader::parse_dynamic`] does.

use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::path::Path;

use crate::dynamic::{Configuration, HttpConfiguration};
use crate::loader::parse_dynamic;
use crate::ConfigError;

/// What a file's last parse was made of: the hash of each element block
/// (its kind and text, whose first line is the element's name). Kept
/// beside that parse's [`Configuration`].
#[derive(Debug, Default)]
pub struct ElementIndex {
    hasher: RandomState,
    known: HashSet<u64, BuildHasherDefault<Hashed>>,
    reused: usize,
}

/// A set of hashes needs no hashing of its own: the hash is the key.
#[derive(Debug, Default)]
struct Hashed(u64);

impl Hasher for Hashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed with it; anything else is folded in.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A hash of `name` lower-cased (FNV-1a), to find a name given twice
/// without a copy of each: two names that hash alike only send the file
/// to the whole parse.
fn folded(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x100_0000_01b3)
    })
}

impl ElementIndex {
    /// How many blocks the last parse was cut into (none when it was
    /// parsed whole without a cut).
    pub fn len(&self) -> usize {
        self.known.len()
    }

    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    /// How many elements the last parse took over from the one before.
    pub fn reused(&self) -> usize {
        self.reused
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Routers,
    Services,
    Middlewares,
    ServersTransports,
}

impl Kind {
    fn of(key: &str) -> Option<Kind> {
        [
            Kind::Routers,
            Kind::Services,
            Kind::Middlewares,
            Kind::ServersTransports,
        ]
        .into_iter()
        .find(|k| k.key().eq_ignore_ascii_case(key))
    }

    fn key(self) -> &'static str {
        match self {
            Kind::Routers => "routers",
            Kind::Services => "services",
            Kind::Middlewares => "middlewares",
            Kind::ServersTransports => "serversTransports",
        }
    }
}

/// One element's lines.
#[derive(Debug)]
struct Block<'a> {
    kind: Kind,
    name: &'a str,
    /// 0-based line of its first line in the file.
    line: usize,
    text: &'a str,
}

/// A file cut into its element blocks and the rest (the text with the
/// `http` section's lines emptied, so that its lines keep their numbers).
#[derive(Debug)]
struct Cut<'a> {
    /// The indentation of the element kinds (`routers:`).
    kinds_indent: usize,
    blocks: Vec<Block<'a>>,
    rest: String,
}

/// `key:` and what follows the colon, for a line that starts with a plain
/// key (no quotes, no flow, no complex key).
fn plain_key(line: &str) -> Option<(&str, &str)> {
    let (key, after) = line.split_once(':')?;
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'));
    let separated = after.is_empty() || after.starts_with(' ');
    (plain && separated).then_some((key, after.trim()))
}

fn nothing_after(after: &str) -> bool {
    after.is_empty() || after.starts_with('#')
}

/// Marks of anchors, aliases and merge keys, which tie blocks together.
const TIES: &[&str] = &[
    ": &", ": *", "- &", "- *", "<<", "[&", "[*", ", &", ", *", "{&", "{*",
];

/// A block being read: kind, name, first line, start offset.
type Open<'a> = (Kind, &'a str, usize, usize);

fn cut<'a>(text: &'a str) -> Option<Cut<'a>> {
    if TIES.iter().any(|t| text.contains(t)) {
        return None;
    }
    #[derive(PartialEq)]
    enum Section {
        Start,
        Http,
        Other,
    }
    let mut section = Section::Start;
    let mut http_seen = false;
    let mut kinds_indent = None;
    let mut kind: Option<(Kind, Option<usize>)> = None;
    let mut kinds_seen = HashSet::new();
    // The block being read: kind, name, first line, start offset.
    let mut open: Option<Open<'a>> = None;
    let mut blocks = Vec::new();
    let mut rest = String::new();
    let mut close = |open: &mut Option<Open<'a>>, end: usize| {
        if let Some((kind, name, line, start)) = open.take() {
            blocks.push(Block {
                kind,
                name,
                line,
                text: &text[start..end],
            });
        }
    };
    let mut offset = 0;
    for (number, line) in text.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        let trimmed = content.trim_start_matches(' ');
        let indent = content.len() - trimmed.len();
        if trimmed.starts_with('\t') {
            return None;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            match section {
                Section::Http => rest.push('\n'),
                _ => rest.push_str(line),
            }
            continue;
        }
        if indent == 0 {
            close(&mut open, start);
            if trimmed.starts_with("---") || trimmed.starts_with("...") || trimmed.starts_with('%')
            {
                return None;
            }
            match plain_key(trimmed) {
                Some((key, after)) if key.eq_ignore_ascii_case("http") => {
                    if !nothing_after(after) || http_seen {
                        return None;
                    }
                    http_seen = true;
                    section = Section::Http;
                    rest.push('\n');
                }
                _ => {
                    // Another section (or a second `http`, caught by the
                    // parse of the rest as a duplicate key).
                    section = Section::Other;
                    rest.push_str(line);
                }
            }
            continue;
        }
        match section {
            Section::Start => return None,
            Section::Other => {
                rest.push_str(line);
                continue;
            }
            Section::Http => rest.push('\n'),
        }
        let kinds = *kinds_indent.get_or_insert(indent);
        if indent < kinds {
            return None;
        }
        if indent == kinds {
            close(&mut open, start);
            let (key, after) = plain_key(trimmed)?;
            let k = Kind::of(key)?;
            if !nothing_after(after) || !kinds_seen.insert(k) {
                return None;
            }
            kind = Some((k, None));
            continue;
        }
        let (k, elements) = kind.as_mut()?;
        let elements = *elements.get_or_insert(indent);
        if indent < elements {
            return None;
        }
        if indent == elements {
            close(&mut open, start);
            let (name, _) = plain_key(trimmed)?;
            open = Some((*k, name, number, start));
        } else if open.is_none() {
            return None;
        }
    }
    close(&mut open, text.len());
    Some(Cut {
        kinds_indent: kinds_indent?,
        blocks,
        rest,
    })
}

/// Takes element `name` of `kind` out of `http`, when it is the only one.
fn take_only(http: &mut HttpConfiguration, kind: Kind, name: &str) -> Option<Element> {
    let counts = http.routers.len()
        + http.services.len()
        + http.middlewares.len()
        + http.servers_transports.len();
    if counts != 1 || http.models.is_some() {
        return None;
    }
    Some(match kind {
        Kind::Routers => Element::Router(http.routers.remove(name)?),
        Kind::Services => Element::Service(http.services.remove(name)?),
        Kind::Middlewares => Element::Middleware(http.middlewares.remove(name)?),
        Kind::ServersTransports => {
            Element::ServersTransport(Box::new(http.servers_transports.remove(name)?))
        }
    })
}

/// One element, boxed (routers, services and middlewares shared, as the
/// configuration holds them): a parse holds one slot per block.
enum Element {
    Router(std::sync::Arc<crate::dynamic::Router>),
    Service(std::sync::Arc<crate::dynamic::Service>),
    Middleware(std::sync::Arc<crate::dynamic::Middleware>),
    ServersTransport(Box<crate::dynamic::ServersTransport>),
}

/// Takes element `name` of `kind` out of a previous parse.
fn take_previous(previous: &mut HttpConfiguration, kind: Kind, name: &str) -> Option<Element> {
    Some(match kind {
        Kind::Routers => Element::Router(previous.routers.remove(name)?),
        Kind::Services => Element::Service(previous.services.remove(name)?),
        Kind::Middlewares => Element::Middleware(previous.middlewares.remove(name)?),
        Kind::ServersTransports => {
            Element::ServersTransport(Box::new(previous.servers_transports.remove(name)?))
        }
    })
}

fn has_element(http: &HttpConfiguration, kind: Kind, name: &str) -> bool {
    match kind {
        Kind::Routers => http.routers.contains_key(name),
        Kind::Services => http.services.contains_key(name),
        Kind::Middlewares => http.middlewares.contains_key(name),
        Kind::ServersTransports => http.servers_transports.contains_key(name),
    }
}

/// The elements of an HTTP section, gathered in file order and sorted into
/// its maps in one go (a bulk build costs a fraction of inserting 10,000
/// elements one by one).
#[derive(Default)]
struct Elements {
    routers: Vec<(String, std::sync::Arc<crate::dynamic::Router>)>,
    services: Vec<(String, std::sync::Arc<crate::dynamic::Service>)>,
    middlewares: Vec<(String, std::sync::Arc<crate::dynamic::Middleware>)>,
    servers_transports: Vec<(String, crate::dynamic::ServersTransport)>,
}

impl Elements {
    /// Room for the elements of `blocks`.
    fn for_blocks(blocks: &[Block<'_>]) -> Elements {
        let count = |kind: Kind| blocks.iter().filter(|b| b.kind == kind).count();
        Elements {
            routers: Vec::with_capacity(count(Kind::Routers)),
            services: Vec::with_capacity(count(Kind::Services)),
            middlewares: Vec::with_capacity(count(Kind::Middlewares)),
            servers_transports: Vec::with_capacity(count(Kind::ServersTransports)),
        }
    }

    /// Adds `element` under `name` (unique: checked before).
    fn put(&mut self, name: &str, element: Element) {
        let name = name.to_string();
        match element {
            Element::Router(e) => self.routers.push((name, e)),
            Element::Service(e) => self.services.push((name, e)),
            Element::Middleware(e) => self.middlewares.push((name, e)),
            Element::ServersTransport(e) => self.servers_transports.push((name, *e)),
        }
    }

    /// Moves the elements `taken` (kind, name) back into `previous`.
    fn put_back(self, previous: &mut HttpConfiguration, taken: &[(Kind, &str)]) {
        let taken: HashSet<(Kind, &str)> = taken.iter().copied().collect();
        let back = |kind: Kind, name: &String| taken.contains(&(kind, name.as_str()));
        for (name, e) in self.routers {
            if back(Kind::Routers, &name) {
                previous.routers.insert(name, e);
            }
        }
        for (name, e) in self.services {
            if back(Kind::Services, &name) {
                previous.services.insert(name, e);
            }
        }
        for (name, e) in self.middlewares {
            if back(Kind::Middlewares, &name) {
                previous.middlewares.insert(name, e);
            }
        }
        for (name, e) in self.servers_transports {
            if back(Kind::ServersTransports, &name) {
                previous.servers_transports.insert(name, e);
            }
        }
    }

    fn into_http(self) -> HttpConfiguration {
        HttpConfiguration {
            routers: self.routers.into_iter().collect(),
            services: self.services.into_iter().collect(),
            middlewares: self.middlewares.into_iter().collect(),
            servers_transports: self.servers_transports.into_iter().collect(),
            models: None,
        }
    }
}

/// The most blocks parsed one by one; more changed ones are parsed whole.
fn most_parsed_alone(blocks: usize) -> usize {
    (blocks / 8).max(16)
}

/// Parses dynamic file `path`'s `text` as [`parse_dynamic`] does, taking
/// over the elements of `previous` (the file's last parse, which `index`
/// describes) whose text did not change. On success, `index` describes the
/// result and `previous` may have been emptied (its elements moved into
/// the result); on error both are left as they were.
pub fn parse_dynamic_reusing(
    path: &Path,
    text: &str,
    previous: &mut Option<Configuration>,
    index: &mut ElementIndex,
) -> Result<Configuration, ConfigError> {
    let yaml = matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("yml" | "yaml")
    );
    let cut = if yaml { cut(text) } else { None };
    let Some(cut) = cut.filter(|c| !c.blocks.is_empty()) else {
        let config = parse_dynamic(path, text)?;
        index.known.clear();
        index.reused = 0;
        return Ok(config);
    };
    let hashes: Vec<u64> = cut
        .blocks
        .iter()
        .map(|b| index.hasher.hash_one((b.kind, b.text)))
        .collect();
    let previous_http = previous.as_ref().and_then(|p| p.http.as_ref());
    let reused: Vec<bool> = cut
        .blocks
        .iter()
        .zip(&hashes)
        .map(|(_, h)| previous_http.is_some() && index.known.contains(h))
        .collect();
    let changed = reused.iter().filter(|r| !**r).count();
    // Only blocks whose element the configuration has are known: all of
    // them when it was assembled from the blocks, else those it has.
    let remember = |index: &mut ElementIndex, config: Option<&Configuration>, reused: usize| {
        let http = config.map(|c| c.http.as_ref());
        index.known = hashes
            .iter()
            .zip(&cut.blocks)
            .filter(|(_, b)| match http {
                None => true,
                Some(Some(h)) => has_element(h, b.kind, b.name),
                Some(None) => false,
            })
            .map(|(h, _)| *h)
            .collect();
        index.reused = reused;
    };
    if changed <= most_parsed_alone(cut.blocks.len()) {
        // An error, or a cut that did not hold: the whole text decides.
        if let Some(Ok(parsed)) = parse_changed(path, &cut, &reused) {
            let rest = parsed_rest(&cut, path);
            let blocks = cut.blocks.iter().zip(parsed);
            if let Some(Ok(config)) = assemble(blocks, &cut.blocks, rest, previous) {
                remember(index, None, cut.blocks.len() - changed);
                return Ok(config);
            }
        }
    }
    let config = parse_dynamic(path, text)?;
    remember(index, Some(&config), 0);
    Ok(config)
}

/// The blocks not `reused`, each parsed alone (None for the others); None
/// when a block does not hold one element of its name, or a name comes
/// twice; an error when a block does not parse.
fn parse_changed(
    path: &Path,
    cut: &Cut<'_>,
    reused: &[bool],
) -> Option<Result<Vec<Option<Element>>, ConfigError>> {
    let mut names: HashSet<(Kind, u64), BuildHasherDefault<Hashed>> =
        HashSet::with_capacity_and_hasher(cut.blocks.len(), Default::default());
    let pad = " ".repeat(cut.kinds_indent);
    let mut out = Vec::with_capacity(cut.blocks.len());
    for (block, reused) in cut.blocks.iter().zip(reused) {
        if !names.insert((block.kind, folded(block.name))) {
            return None;
        }
        if *reused {
            out.push(None);
            continue;
        }
        let alone = format!("http:\n{pad}{}:\n{}", block.kind.key(), block.text);
        // Its first line is line 3 of `alone`.
        let offset = u32::try_from(block.line.saturating_sub(2)).ok()?;
        let parsed = crate::yaml_source::parse_at(path, &alone, offset)
            .and_then(|tree| crate::dynamic_schema::decode(&tree));
        let mut config = match parsed {
            Ok(c) => c,
            Err(e) => return Some(Err(e)),
        };
        out.push(Some(take_only(
            config.http.as_mut()?,
            block.kind,
            block.name,
        )?));
    }
    Some(Ok(out))
}

/// The configuration of what is not an element block; None when it has an
/// `http` section after all.
fn parsed_rest(cut: &Cut<'_>, path: &Path) -> Option<Result<Configuration, ConfigError>> {
    if cut.rest.trim().is_empty() {
        return Some(Ok(Configuration::default()));
    }
    match parse_dynamic(path, &cut.rest) {
        Ok(c) if c.http.is_some() => None,
        other => Some(other),
    }
}

/// The configuration of the rest and the blocks: the parsed ones as given,
/// the others taken out of `previous`; None, with `previous` as it was,
/// when one of those is not there after all.
fn assemble<'a>(
    blocks: impl Iterator<Item = (&'a Block<'a>, Option<Element>)>,
    all: &[Block<'_>],
    rest: Option<Result<Configuration, ConfigError>>,
    previous: &mut Option<Configuration>,
) -> Option<Result<Configuration, ConfigError>> {
    let mut config = match rest? {
        Ok(c) => c,
        Err(e) => return Some(Err(e)),
    };
    let mut elements = Elements::for_blocks(all);
    let mut taken = Vec::new();
    let mut from = previous.as_mut().and_then(|p| p.http.as_mut());
    for (block, parsed) in blocks {
        let element = match parsed {
            Some(e) => e,
            None => {
                let found = from
                    .as_deref_mut()
                    .and_then(|p| take_previous(p, block.kind, block.name));
                match found {
                    Some(e) => {
                        taken.push((block.kind, block.name));
                        e
                    }
                    None => {
                        // Put back what was taken: the caller parses whole.
                        if let Some(p) = from {
                            elements.put_back(p, &taken);
                        }
                        return None;
                    }
                }
            }
        };
        elements.put(block.name, element);
    }
    config.http = Some(elements.into_http());
    Some(Ok(config))
}

#[cfg(test)]
mod tests;
