//! XML request bodies as a small namespace-resolved tree (quick-xml), and
//! the serialization of elements and multistatus replies.
//!
//! Hostile input: a body with a DOCTYPE is refused outright (no internal
//! or external entities exist to expand), unknown entity references and
//! unbound prefixes are errors, and nesting is bounded.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use quick_xml::escape::{escape, partial_escape};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use crate::error::{DavError, DavResult};

/// The WebDAV namespace.
pub const DAV: &str = "DAV:";

/// An expanded name: namespace URI (empty for none) and local name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name {
    /// The namespace URI; empty for no namespace.
    pub ns: String,
    /// The local name.
    pub local: String,
}

impl Name {
    /// A name.
    pub fn new(ns: &str, local: &str) -> Name {
        Name {
            ns: ns.to_string(),
            local: local.to_string(),
        }
    }

    /// A name in `DAV:`.
    pub fn dav(local: &str) -> Name {
        Name::new(DAV, local)
    }

    /// An empty element of this name, with its own namespace declaration
    /// (`<D:getetag/>` for `DAV:`, whose prefix the reply declares).
    pub fn empty_element(&self) -> String {
        if self.ns == DAV {
            format!("<D:{}/>", self.local)
        } else if self.ns.is_empty() {
            format!("<{}/>", self.local)
        } else {
            format!(
                "<X:{} xmlns:X=\"{}\"/>",
                self.local,
                escape(self.ns.as_str())
            )
        }
    }
}

/// A node of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Character data (entities and CDATA resolved).
    Text(String),
}

/// An element with its resolved name, attributes and children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Its name.
    pub name: Name,
    /// Its attributes other than namespace declarations.
    pub attributes: Vec<(Name, String)>,
    /// Its children, in order.
    pub children: Vec<Node>,
}

impl Element {
    /// Whether it is `DAV:{local}`.
    pub fn is_dav(&self, local: &str) -> bool {
        self.name.ns == DAV && self.name.local == local
    }

    /// Its child elements.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// Its first child `DAV:{local}`.
    pub fn dav_child(&self, local: &str) -> Option<&Element> {
        self.elements().find(|e| e.is_dav(local))
    }

    /// Its text content, all descendants' text concatenated.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for n in &self.children {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Element(e) => out.push_str(&e.text()),
            }
        }
        out
    }

    /// The element serialized on its own: every namespace it and its
    /// descendants use is declared on it (prefixes `X0`, `X1`, ...), so it
    /// can be stored and later inserted anywhere in a reply.
    pub fn to_xml(&self) -> String {
        let mut prefixes = BTreeMap::new();
        self.collect_namespaces(&mut prefixes);
        let mut out = String::new();
        self.write(&prefixes, true, &mut out);
        out
    }

    fn collect_namespaces(&self, prefixes: &mut BTreeMap<String, String>) {
        let names = std::iter::once(&self.name).chain(self.attributes.iter().map(|(n, _)| n));
        for name in names {
            if !name.ns.is_empty() && !prefixes.contains_key(&name.ns) {
                let p = format!("X{}", prefixes.len());
                prefixes.insert(name.ns.clone(), p);
            }
        }
        for e in self.elements() {
            e.collect_namespaces(prefixes);
        }
    }

    fn write(&self, prefixes: &BTreeMap<String, String>, root: bool, out: &mut String) {
        let qualified = |n: &Name| match prefixes.get(&n.ns) {
            Some(p) => format!("{p}:{}", n.local),
            None => n.local.clone(),
        };
        let _ = write!(out, "<{}", qualified(&self.name));
        if root {
            for (ns, p) in prefixes {
                let _ = write!(out, " xmlns:{p}=\"{}\"", escape(ns.as_str()));
            }
        }
        for (n, v) in &self.attributes {
            let _ = write!(out, " {}=\"{}\"", qualified(n), escape(v.as_str()));
        }
        if self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for c in &self.children {
            match c {
                Node::Text(t) => out.push_str(&partial_escape(t.as_str())),
                Node::Element(e) => e.write(prefixes, false, out),
            }
        }
        let _ = write!(out, "</{}>", qualified(&self.name));
    }
}

fn resolved_name(result: ResolveResult<'_>, local: &[u8]) -> DavResult<Name> {
    let ns = match result {
        ResolveResult::Bound(ns) => String::from_utf8(ns.0.to_vec()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(_) => return Err(DavError::bad_request("unbound XML prefix")),
    }
    .map_err(|_| DavError::bad_request("XML is not UTF-8"))?;
    let local =
        String::from_utf8(local.to_vec()).map_err(|_| DavError::bad_request("XML is not UTF-8"))?;
    Ok(Name { ns, local })
}

fn malformed(e: impl std::fmt::Display) -> DavError {
    DavError::bad_request(format!("malformed XML: {e}"))
}

/// Parses a request body into its root element.
///
/// Errors: 400 for malformed XML, a DOCTYPE, an unknown entity, an
/// unbound prefix, more than one root, or nesting deeper than `max_depth`.
pub fn parse(body: &[u8], max_depth: usize) -> DavResult<Element> {
    let mut reader = NsReader::from_reader(body);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(malformed)?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                if root.is_some() {
                    return Err(DavError::bad_request("more than one root element"));
                }
                if stack.len() >= max_depth {
                    return Err(DavError::bad_request("XML nested too deep"));
                }
                let name = resolved_name(ns, start.local_name().as_ref())?;
                let mut attributes = Vec::new();
                for attr in start.attributes() {
                    let attr = attr.map_err(malformed)?;
                    if attr.key.as_namespace_binding().is_some() {
                        continue;
                    }
                    let (ans, local) = reader.resolve_attribute(attr.key);
                    let value = attr.unescape_value().map_err(malformed)?.into_owned();
                    attributes.push((resolved_name(ans, local.as_ref())?, value));
                }
                let element = Element {
                    name,
                    attributes,
                    children: Vec::new(),
                };
                if matches!(event, Event::Start(_)) {
                    stack.push(element);
                } else {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(Node::Element(element)),
                        None => root = Some(element),
                    }
                }
            }
            Event::End(_) => {
                let element = stack.pop().ok_or_else(|| malformed("unbalanced end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(element)),
                    None => root = Some(element),
                }
            }
            Event::Text(text) => {
                let text = text.unescape().map_err(malformed)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Text(text.into_owned())),
                    None if text.trim().is_empty() => {}
                    None => return Err(malformed("text outside the root element")),
                }
            }
            Event::CData(data) => {
                let text = String::from_utf8(data.into_inner().into_owned())
                    .map_err(|_| DavError::bad_request("XML is not UTF-8"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Text(text)),
                    None => return Err(malformed("CDATA outside the root element")),
                }
            }
            Event::DocType(_) => {
                return Err(DavError::bad_request("a DOCTYPE is not accepted"));
            }
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(malformed("unclosed element"));
    }
    root.ok_or_else(|| malformed("no root element"))
}

/// The start of every XML reply body, declaring `D:` for `DAV:`.
pub fn reply_start(root: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:{root} xmlns:D=\"DAV:\">")
}

/// A `DAV:error` body naming a precondition (RFC 4918 16).
pub fn error_body(condition: &str) -> String {
    format!("{}<D:{condition}/></D:error>", reply_start("error"))
}

/// Escapes character data and attribute values.
pub fn text(s: &str) -> String {
    partial_escape(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_namespaces_and_round_trips_a_property() {
        let body = br#"<?xml version="1.0"?>
            <D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://ex/z">
              <D:set><D:prop><Z:author a="1">J &amp; <b xmlns="http://ex/b">B</b></Z:author></D:prop></D:set>
            </D:propertyupdate>"#;
        let root = parse(body, 10).unwrap();
        assert!(root.is_dav("propertyupdate"));
        let prop = root.dav_child("set").unwrap().dav_child("prop").unwrap();
        let author = prop.elements().next().unwrap();
        assert_eq!(author.name, Name::new("http://ex/z", "author"));
        let xml = author.to_xml();
        let again = parse(xml.as_bytes(), 10).unwrap();
        assert_eq!(&again, author);
        assert_eq!(again.text(), "J & B");
    }

    #[test]
    fn refuses_hostile_documents() {
        let bomb = br#"<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>"#;
        assert_eq!(parse(bomb, 10).unwrap_err().status, 400);
        assert!(parse(b"<x><y></x>", 10).is_err());
        assert!(parse(b"<p:x/>", 10).is_err());
        let deep = "<a>".repeat(50) + &"</a>".repeat(50);
        assert!(parse(deep.as_bytes(), 32).is_err());
        assert!(parse(b"<a/><b/>", 10).is_err());
    }
}
