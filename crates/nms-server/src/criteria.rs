//! Search criteria (TS 5.3.2.16–17, the table of TS 6.7) as store-core
//! search keys, and the sort and cursor of a search (TS 5.1.10).

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use store_core::model::{parse_rfc3339, FolderId, Uid};
use store_core::search::SearchKey;

use crate::error::{NmsError, NmsResult};
use crate::types::{
    LogicalOperator, SearchCriteria, SearchCriterion, SearchType, SortCriterion, SortOrder,
    SortType,
};

/// Most criteria of one search, and most sort criteria: past them,
/// SVC0002 (each criterion costs every object of the scope a check).
pub const MAX_CRITERIA: usize = 64;

/// What a search asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    /// The objects matching a store search key.
    Matching(SearchKey),
    /// Objects removed for good (`VanishedObjects`, TS 5.1.7): alone only.
    Vanished,
    /// Objects created after a creation cursor (`CreatedObjects`, TS
    /// 5.1.5.2; `""`: all): alone only.
    Created(u64),
}

/// The search `criteria` ask for (absent: every object).
///
/// Errors: SVC0002 for a malformed value (a date, a flag value, a
/// creation cursor) or VanishedObjects / CreatedObjects combined with
/// other criteria; SVC0003 for an unknown PresetSearch (none is
/// defined) or Direction value.
pub fn search(criteria: Option<&SearchCriteria>) -> NmsResult<Search> {
    let Some(criteria) = criteria.filter(|c| !c.criterion.is_empty()) else {
        return Ok(Search::Matching(SearchKey::All));
    };
    if criteria.criterion.len() > MAX_CRITERIA {
        return Err(NmsError::invalid_input(format!(
            "searchCriteria (at most {MAX_CRITERIA} criteria)"
        )));
    }
    let alone = criteria.criterion.len() == 1 && criteria.operator != Some(LogicalOperator::Not);
    for c in &criteria.criterion {
        match c.kind {
            SearchType::VanishedObjects | SearchType::CreatedObjects if !alone => {
                return Err(NmsError::invalid_input(format!(
                    "{:?} (cannot be combined or negated, TS 6.7)",
                    c.kind
                )))
            }
            SearchType::VanishedObjects => return Ok(Search::Vanished),
            SearchType::CreatedObjects => {
                let value = c.value.trim();
                let after = match value {
                    "" => 0,
                    v => v
                        .parse()
                        .map_err(|_| NmsError::invalid_input("creationCursor"))?,
                };
                return Ok(Search::Created(after));
            }
            _ => {}
        }
    }
    let keys = criteria
        .criterion
        .iter()
        .map(criterion_key)
        .collect::<NmsResult<Vec<_>>>()?;
    Ok(Search::Matching(match criteria.effective_operator() {
        LogicalOperator::And => and(keys),
        LogicalOperator::Not => SearchKey::Not(Box::new(and(keys))),
        LogicalOperator::Or => keys
            .into_iter()
            .reduce(|a, b| SearchKey::Or(Box::new(a), Box::new(b)))
            .unwrap_or(SearchKey::All),
    }))
}

fn and(mut keys: Vec<SearchKey>) -> SearchKey {
    match keys.len() {
        1 => keys.remove(0),
        _ => SearchKey::And(keys),
    }
}

/// One criterion as a store key (the table of TS 6.7).
fn criterion_key(c: &SearchCriterion) -> NmsResult<SearchKey> {
    let name = c.name.as_deref().unwrap_or_default();
    Ok(match c.kind {
        SearchType::Date => {
            let (from, until) = date_range(&c.value)?;
            SearchKey::StoredWithin(from, until)
        }
        SearchType::Attribute => attribute_key(name, &c.value)?,
        // Substring, case-insensitive, in the header fields (the text
        // attributes) and the text body (TextContent).
        SearchType::AllTextAttributes => SearchKey::Text(c.value.clone()),
        // Full text search, answered as the store's text search is: a
        // substring of the header fields or the text parts.
        SearchType::WholeWord => SearchKey::Text(c.value.clone()),
        SearchType::Flag => {
            if name.is_empty() {
                return Err(NmsError::invalid_input("Flag criterion name"));
            }
            let flag = SearchKey::Flag(name.to_string());
            match c.value.trim().to_ascii_lowercase().as_str() {
                "" | "true" | "1" => flag,
                "false" | "0" => SearchKey::Not(Box::new(flag)),
                _ => {
                    return Err(NmsError::invalid_value(
                        "Flag criterion value",
                        &["true", "false"],
                    ))
                }
            }
        }
        SearchType::PresetSearch | SearchType::Conversation => {
            return Err(NmsError::invalid_value("PresetSearch name", &[]))
        }
        SearchType::VanishedObjects | SearchType::CreatedObjects => {
            return Err(NmsError::invalid_input(format!("{:?}", c.kind)))
        }
    })
}

/// `minDate=…&maxDate=…` (TS 6.7: from inclusive, until exclusive), each
/// an `xsd:dateTimeStamp`, at least one of them; Unix seconds.
///
/// Errors: SVC0002.
pub fn date_range(value: &str) -> NmsResult<(Option<i64>, Option<i64>)> {
    let mut range = (None, None);
    for pair in value.trim().split('&').filter(|p| !p.trim().is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| NmsError::invalid_input("Date criterion value"))?;
        let t = parse_rfc3339(v.trim()).ok_or_else(|| NmsError::invalid_input(k.trim()))?;
        match k.trim() {
            "minDate" => range.0 = Some(t),
            "maxDate" => range.1 = Some(t),
            _ => return Err(NmsError::invalid_input("Date criterion value")),
        }
    }
    if range == (None, None) {
        return Err(NmsError::invalid_input("Date criterion value"));
    }
    Ok(range)
}

/// An `Attribute` criterion (Appendix I names): the attribute's header
/// field equals the value (an address list: one of its addresses);
/// `Direction` In / Out is CPM `Message-Direction` received / sent;
/// `TextContent` is a substring of the text body.
fn attribute_key(name: &str, value: &str) -> NmsResult<SearchKey> {
    if name.is_empty() {
        return Err(NmsError::invalid_input("Attribute criterion name"));
    }
    Ok(if name.eq_ignore_ascii_case("Direction") {
        let direction = match value.trim().to_ascii_lowercase().as_str() {
            "in" => "received",
            "out" => "sent",
            _ => return Err(NmsError::invalid_value("Direction", &["In", "Out"])),
        };
        SearchKey::HeaderIs("Message-Direction".into(), direction.into())
    } else if name.eq_ignore_ascii_case("TextContent") {
        SearchKey::Body(value.to_string())
    } else {
        SearchKey::HeaderIs(name.to_string(), value.trim().to_string())
    })
}

/// One value an object sorts by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SortValue {
    /// A time (Unix seconds) or a number.
    Number(i64),
    /// Text, compared as stored (case-folded by the caller).
    Text(String),
}

/// Where an object stands in a search's order: its sort values, then its
/// folder and UID (which make the order total). A cursor is the position
/// of the last object sent: the next page starts after it, so that an
/// object added or removed meanwhile neither shifts nor hides others
/// (TS 5.1.10: every object present throughout is returned at least once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The values of the sort criteria, in their order.
    pub values: Vec<SortValue>,
    /// The folder's store id.
    pub folder: FolderId,
    /// The UID.
    pub uid: Uid,
}

impl Position {
    /// The cursor naming this position (opaque to clients: hex of JSON).
    pub fn cursor(&self) -> String {
        hex::encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// The position a cursor names.
    ///
    /// Errors: SVC0002 for anything this server did not make.
    pub fn from_cursor(cursor: &str) -> NmsResult<Position> {
        hex::decode(cursor.trim())
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| NmsError::invalid_input("fromCursor"))
    }
}

/// The order of positions under `sort` (each criterion ascending or
/// descending, TS 5.3.3.4), ties broken by folder and UID ascending.
pub fn compare(sort: &[SortCriterion], a: &Position, b: &Position) -> Ordering {
    compare_values(sort, &a.values, &b.values).then((a.folder, a.uid).cmp(&(b.folder, b.uid)))
}

/// The order of two items' sort values under `sort` (each criterion
/// ascending or descending, TS 5.3.3.4); `Equal` leaves the tie to the
/// caller.
pub fn compare_values(sort: &[SortCriterion], a: &[SortValue], b: &[SortValue]) -> Ordering {
    for (i, criterion) in sort.iter().enumerate() {
        let ord = a.get(i).cmp(&b.get(i));
        let ord = match criterion.effective_order() {
            SortOrder::Ascending => ord,
            SortOrder::Descending => ord.reverse(),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Checks sort criteria: at most [`MAX_CRITERIA`]; an `Attribute` sort
/// needs a name.
///
/// Errors: SVC0002.
pub fn check_sort(sort: &[SortCriterion]) -> NmsResult<()> {
    if sort.len() > MAX_CRITERIA {
        return Err(NmsError::invalid_input("sortCriterion"));
    }
    for c in sort {
        if c.kind == SortType::Attribute && c.name.as_deref().is_none_or(str::is_empty) {
            return Err(NmsError::invalid_input("sortCriterion name"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn criterion(kind: SearchType, name: Option<&str>, value: &str) -> SearchCriterion {
        SearchCriterion {
            kind,
            name: name.map(str::to_string),
            value: value.into(),
        }
    }

    #[test]
    fn the_d20_criteria_become_one_and() {
        let criteria = SearchCriteria {
            criterion: vec![
                criterion(
                    SearchType::Attribute,
                    Some("Message-Context"),
                    "pager-message",
                ),
                criterion(SearchType::Attribute, Some("Direction"), "In"),
                criterion(SearchType::Attribute, Some("From"), "tel:+19585550100"),
                criterion(SearchType::Date, None, "minDate=2013-11-11T09:30:10Z"),
            ],
            operator: Some(LogicalOperator::And),
        };
        assert_eq!(
            search(Some(&criteria)).unwrap(),
            Search::Matching(SearchKey::And(vec![
                SearchKey::HeaderIs("Message-Context".into(), "pager-message".into()),
                SearchKey::HeaderIs("Message-Direction".into(), "received".into()),
                SearchKey::HeaderIs("From".into(), "tel:+19585550100".into()),
                SearchKey::StoredWithin(Some(1_384_162_210), None),
            ]))
        );
    }

    #[test]
    fn not_negates_the_and_of_all_and_special_searches_stand_alone() {
        let flag = |v: &str| criterion(SearchType::Flag, Some("\\Seen"), v);
        let not = SearchCriteria {
            criterion: vec![flag("true"), flag("false")],
            operator: Some(LogicalOperator::Not),
        };
        assert_eq!(
            search(Some(&not)).unwrap(),
            Search::Matching(SearchKey::Not(Box::new(SearchKey::And(vec![
                SearchKey::Flag("\\Seen".into()),
                SearchKey::Not(Box::new(SearchKey::Flag("\\Seen".into()))),
            ]))))
        );
        let created = SearchCriteria {
            criterion: vec![criterion(SearchType::CreatedObjects, None, "41")],
            operator: None,
        };
        assert_eq!(search(Some(&created)).unwrap(), Search::Created(41));
        let mixed = SearchCriteria {
            criterion: vec![criterion(SearchType::VanishedObjects, None, ""), flag("")],
            operator: None,
        };
        assert_eq!(search(Some(&mixed)).unwrap_err().status.as_u16(), 400);
        let preset = SearchCriteria {
            criterion: vec![criterion(
                SearchType::PresetSearch,
                Some("RemoteParty"),
                "x",
            )],
            operator: None,
        };
        let e = search(Some(&preset)).unwrap_err();
        assert_eq!(e.exception.map(|x| x.1), Some("SVC0003"));
        for bad in ["", "minDate=yesterday", "since=2013-11-11T09:30:10Z"] {
            let c = SearchCriteria {
                criterion: vec![criterion(SearchType::Date, None, bad)],
                operator: None,
            };
            assert!(search(Some(&c)).is_err(), "{bad}");
        }
    }

    #[test]
    fn cursors_round_trip_and_order_is_total() {
        let p = Position {
            values: vec![SortValue::Number(5), SortValue::Text("x".into())],
            folder: 3,
            uid: 9,
        };
        assert_eq!(Position::from_cursor(&p.cursor()).unwrap(), p);
        assert!(Position::from_cursor("zz").is_err());
        let sort = vec![SortCriterion {
            kind: SortType::Date,
            name: None,
            order: Some(SortOrder::Descending),
        }];
        let q = Position {
            values: vec![SortValue::Number(4)],
            folder: 1,
            uid: 1,
        };
        assert_eq!(compare(&sort, &p, &q), Ordering::Less);
        assert_eq!(compare(&[], &p, &q), Ordering::Greater);
    }
}
