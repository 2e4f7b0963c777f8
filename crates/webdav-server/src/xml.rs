//! XML request bodies as a small namespace-resolved tree (quick-xml), and
//! the serialization of elements and multistatus replies.
//!
//! Hostile input: a body with a DOCTYPE is refused outright (no internal
//! or external entities exist to expand), unknown entity references and
//! unbound prefixes are errors, and nesting is bounded.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use quick_xml::escape::{escape, partial_escape, resolve_predefined_entity};
use quick_xml::events::Event;
use quick_xml::name::{NamespaceError, NamespaceResolver, ResolveResult};
use quick_xml::reader::Reader;
use quick_xml::XmlVersion;

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

fn resolved_name(result: ResolveResult<'_>, local: &str) -> DavResult<Name> {
    let ns = match result {
        ResolveResult::Bound(ns) => ns.0.to_string(),
        ResolveResult::Unbound => String::new(),
        ResolveResult::Unknown(_) => return Err(DavError::bad_request("unbound XML prefix")),
    };
    Ok(Name {
        ns,
        local: local.to_string(),
    })
}

fn malformed(e: impl std::fmt::Display) -> DavError {
    DavError::bad_request(format!("malformed XML: {e}"))
}

/// The bounds a request body is parsed within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest element nesting.
    pub max_depth: usize,
    /// Most attributes on one element, namespace declarations included;
    /// also the most namespace bindings in scope at once.
    pub max_attributes: usize,
}

/// Appends character data to `parent`, merging it with a preceding text
/// node, so a run of text and references is one node.
fn push_text(parent: &mut Element, text: &str) {
    if let Some(Node::Text(last)) = parent.children.last_mut() {
        last.push_str(text);
    } else {
        parent.children.push(Node::Text(text.to_string()));
    }
}

/// The replacement text of a reference in character data: one of the
/// five predefined entities or a character reference (XML 1.0 4.1, 4.6).
fn reference(name: &str) -> DavResult<String> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix('x') {
            Some(hex) => u32::from_str_radix(hex, 16),
            None => number.parse::<u32>(),
        }
        .map_err(|_| malformed("bad character reference"))?;
        return match char::from_u32(code) {
            Some(c) if c != '\0' => Ok(c.to_string()),
            _ => Err(malformed("bad character reference")),
        };
    }
    resolve_predefined_entity(name)
        .map(str::to_string)
        .ok_or_else(|| DavError::bad_request(format!("unknown XML entity &{name};")))
}

/// Parses a request body into its root element. Linear in the body's
/// size: the work per element is bounded by `limits`.
///
/// Errors: 400 for malformed XML, a DOCTYPE, an unknown entity, an
/// unbound prefix, more than one root, nesting deeper than
/// `limits.max_depth`, or more than `limits.max_attributes` attributes
/// on one element or namespace bindings in scope.
pub fn parse(body: &[u8], limits: Limits) -> DavResult<Element> {
    let mut reader = Reader::from_reader(body);
    reader.config_mut().check_end_names = true;
    // Namespaces are resolved here rather than by quick-xml's NsReader,
    // which reads every attribute of an element before the caller sees
    // it: the attribute cap is checked first.
    let mut resolver = NamespaceResolver::default();
    resolver.set_max_namespace_bindings(limits.max_attributes);
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    loop {
        let event = reader.read_event().map_err(malformed)?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                if root.is_some() {
                    return Err(DavError::bad_request("more than one root element"));
                }
                if stack.len() >= limits.max_depth {
                    return Err(DavError::bad_request("XML nested too deep"));
                }
                let mut unchecked = start.attributes();
                unchecked.with_checks(false);
                if unchecked.take(limits.max_attributes + 1).count() > limits.max_attributes {
                    return Err(DavError::bad_request(
                        "too many XML attributes on an element",
                    ));
                }
                resolver.push(start).map_err(|e| match e {
                    NamespaceError::TooManyBindings(_) => {
                        DavError::bad_request("too many XML namespace declarations")
                    }
                    other => malformed(other),
                })?;
                let (ns, local) = resolver.resolve_element(start.name());
                let name = resolved_name(ns, local.as_ref())?;
                let mut attributes = Vec::new();
                for attr in start.attributes() {
                    let attr = attr.map_err(malformed)?;
                    if attr.key.as_namespace_binding().is_some() {
                        continue;
                    }
                    let (ans, local) = resolver.resolve_attribute(attr.key);
                    let value = attr
                        .normalized_value(XmlVersion::Implicit1_0)
                        .map_err(malformed)?
                        .into_owned();
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
                    resolver.pop();
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(Node::Element(element)),
                        None => root = Some(element),
                    }
                }
            }
            Event::End(_) => {
                resolver.pop();
                let element = stack.pop().ok_or_else(|| malformed("unbalanced end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(element)),
                    None => root = Some(element),
                }
            }
            Event::Text(text) => {
                let text = text.xml10_content();
                match stack.last_mut() {
                    Some(parent) => push_text(parent, &text),
                    None if text.trim().is_empty() => {}
                    None => return Err(malformed("text outside the root element")),
                }
            }
            Event::GeneralRef(r) => {
                let text = reference(&r.into_inner())?;
                match stack.last_mut() {
                    Some(parent) => push_text(parent, &text),
                    None => return Err(malformed("a reference outside the root element")),
                }
            }
            Event::CData(data) => match stack.last_mut() {
                Some(parent) => push_text(parent, &data.xml10_content()),
                None => return Err(malformed("CDATA outside the root element")),
            },
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

/// A `DAV:error` body naming a precondition (RFC 4918 16), with the
/// `DAV:href` elements it carries (`lock-token-submitted` names the root
/// of each lock not honoured, RFC 4918 9.10.6, 16).
pub fn error_body(condition: &str, hrefs: &[String]) -> String {
    if hrefs.is_empty() {
        return format!("{}<D:{condition}/></D:error>", reply_start("error"));
    }
    let mut body = format!("{}<D:{condition}>", reply_start("error"));
    for href in hrefs {
        body.push_str("<D:href>");
        body.push_str(&text(href));
        body.push_str("</D:href>");
    }
    body.push_str(&format!("</D:{condition}></D:error>"));
    body
}

/// Escapes character data and attribute values.
pub fn text(s: &str) -> String {
    partial_escape(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_depth: 10,
        max_attributes: 8,
    };

    #[test]
    fn parses_namespaces_and_round_trips_a_property() {
        let body = br#"<?xml version="1.0"?>
            <D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://ex/z">
              <D:set><D:prop><Z:author a="1">J &amp; <b xmlns="http://ex/b">B</b></Z:author></D:prop></D:set>
            </D:propertyupdate>"#;
        let root = parse(body, LIMITS).unwrap();
        assert!(root.is_dav("propertyupdate"));
        let prop = root.dav_child("set").unwrap().dav_child("prop").unwrap();
        let author = prop.elements().next().unwrap();
        assert_eq!(author.name, Name::new("http://ex/z", "author"));
        let xml = author.to_xml();
        let again = parse(xml.as_bytes(), LIMITS).unwrap();
        assert_eq!(&again, author);
        assert_eq!(again.text(), "J & B");
    }

    #[test]
    fn refuses_hostile_documents() {
        let bomb = br#"<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>"#;
        assert_eq!(parse(bomb, LIMITS).unwrap_err().status, 400);
        assert!(parse(b"<x><y></x>", LIMITS).is_err());
        assert!(parse(b"<p:x/>", LIMITS).is_err());
        let deep = "<a>".repeat(50) + &"</a>".repeat(50);
        assert!(parse(
            deep.as_bytes(),
            Limits {
                max_depth: 32,
                ..LIMITS
            }
        )
        .is_err());
        assert!(parse(b"<a/><b/>", LIMITS).is_err());
    }

    #[test]
    fn resolves_references_into_one_text_node() {
        let root = parse(b"<x>a&lt;&#x42;&#67;<![CDATA[&d]]>e</x>", LIMITS).unwrap();
        assert_eq!(root.children, vec![Node::Text("a<BC&de".into())]);
        for bad in [
            "<x>&nbsp;</x>",
            "<x>&#0;</x>",
            "<x>&#xD800;</x>",
            "<x>a & b</x>",
        ] {
            assert_eq!(
                parse(bad.as_bytes(), LIMITS).unwrap_err().status,
                400,
                "{bad}"
            );
        }
        assert!(parse(b"<x>\xff</x>", LIMITS).is_err());
    }

    #[test]
    fn caps_attributes_and_namespace_bindings() {
        let attrs = |n: usize| {
            let a: String = (0..n).map(|i| format!(" a{i}=\"v\"")).collect();
            format!("<x{a}/>")
        };
        assert_eq!(
            parse(attrs(8).as_bytes(), LIMITS).unwrap().attributes.len(),
            8
        );
        assert_eq!(parse(attrs(9).as_bytes(), LIMITS).unwrap_err().status, 400);
        let decls = |n: usize| {
            let a: String = (0..n).map(|i| format!(" xmlns:p{i}=\"u{i}\"")).collect();
            format!("<x{a}/>")
        };
        assert!(parse(decls(8).as_bytes(), LIMITS).is_ok());
        assert_eq!(parse(decls(9).as_bytes(), LIMITS).unwrap_err().status, 400);
        // Bindings in scope count across nesting levels.
        let nested = "<a xmlns:p=\"u\">".repeat(9) + &"</a>".repeat(9);
        assert_eq!(parse(nested.as_bytes(), LIMITS).unwrap_err().status, 400);
    }

    #[test]
    fn a_huge_element_is_refused_in_linear_time() {
        let limits = Limits {
            max_depth: 32,
            max_attributes: 64,
        };
        for attr in [
            "a{i}=\"v\"",
            "xmlns:p{i}=\"u\"",
            "p:a{i}=\"v\" xmlns:p=\"u\"",
        ] {
            let body: String = (0..60_000)
                .map(|i| format!(" {}", attr.replace("{i}", &i.to_string())))
                .collect();
            let body = format!("<D:propfind xmlns:D=\"DAV:\"{body}/>");
            let started = std::time::Instant::now();
            assert_eq!(parse(body.as_bytes(), limits).unwrap_err().status, 400);
            assert!(
                started.elapsed() < std::time::Duration::from_secs(2),
                "{attr}"
            );
        }
    }
}
