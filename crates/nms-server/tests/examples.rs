//! Test vectors: every JSON body of TS Appendix D (OMA-TS-REST_NetAPI_NMS-V1_0,
//! D.1-D.65), extracted to `tests/examples/` and catalogued in
//! `tests/examples/INDEX.md`, must deserialize into the type of
//! `nms_server::types` chosen by its top-level key and re-serialize to the same
//! JSON value — except for the intended normalisations listed in
//! [`NORMALISATIONS`]. A few more tests pin down the lenient input rules.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use nms_server::types::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// Intended normalisations: (file, JSON pointer of a member of the original
/// that is not written back, reason). The member must exist and be `null`.
const NORMALISATIONS: &[(&str, &str, &str)] = &[
    (
        "D.43-response.json",
        "/folderList/folder/0/path",
        "a root folder has no path; Appendix D prints `\"path\": null`, which reads as \
         an absent optional member, and absent optional members are omitted on output",
    ),
    (
        "D.48-response.json",
        "/reference/path",
        "same as D.43: `\"path\": null` for the root folder reads as absent and is omitted",
    ),
];

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/examples")
}

fn example_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

/// Deserializes `text` as `T` and serializes it back to a JSON value.
fn rt<T: DeserializeOwned + Serialize>(text: &str) -> Result<Value, String> {
    let typed: T = serde_json::from_str(text).map_err(|e| format!("deserialize: {e}"))?;
    serde_json::to_value(&typed).map_err(|e| format!("serialize: {e}"))
}

/// The type for each root element key.
fn reserialize(key: &str, text: &str) -> Result<Value, String> {
    match key {
        "object" => rt::<ObjectRoot>(text),
        "objectList" => rt::<ObjectListRoot>(text),
        "flag" => rt::<FlagRoot>(text),
        "flagList" => rt::<FlagListRoot>(text),
        "folder" => rt::<FolderRoot>(text),
        "folderList" => rt::<FolderListRoot>(text),
        "folderReferenceList" => rt::<FolderReferenceListRoot>(text),
        "objectReferenceList" => rt::<ObjectReferenceListRoot>(text),
        "reference" => rt::<ReferenceRoot>(text),
        "targetSourceRef" => rt::<TargetSourceRefRoot>(text),
        "selectionCriteria" => rt::<SelectionCriteriaRoot>(text),
        "pathList" => rt::<PathListRoot>(text),
        "bulkResponseList" => rt::<BulkResponseListRoot>(text),
        "nmsSubscription" => rt::<NmsSubscriptionRoot>(text),
        "nmsSubscriptionList" => rt::<NmsSubscriptionListRoot>(text),
        "nmsSubscriptionUpdate" => rt::<NmsSubscriptionUpdateRoot>(text),
        "nmsEventList" => rt::<NmsEventListRoot>(text),
        "empty" => rt::<EmptyRoot>(text),
        "name" => rt::<NameRoot>(text),
        "requestError" => rt::<RequestErrorRoot>(text),
        "resourceReference" => rt::<ResourceReferenceRoot>(text),
        other => Err(format!("top-level key `{other}` is not mapped to a type")),
    }
}

/// Removes the member at `pointer` from `v`, returning it.
fn remove_member(v: &mut Value, pointer: &str) -> Option<Value> {
    let (parent, name) = pointer.rsplit_once('/')?;
    v.pointer_mut(parent)?.as_object_mut()?.remove(name)
}

#[test]
fn appendix_d_examples_round_trip() {
    let files = example_files();
    // D.1-D.65 hold 95 JSON bodies (D.10, 14, 17, 18, 19, 39, 63 have none).
    assert_eq!(files.len(), 95, "number of extracted Appendix D bodies");

    let mut failures = Vec::new();
    let mut used_normalisations = BTreeSet::new();
    for path in &files {
        let file = path.file_name().unwrap().to_str().unwrap().to_owned();
        let text = fs::read_to_string(path).unwrap();
        let original: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{file}: not JSON: {e}"));
                continue;
            }
        };
        let key = match original.as_object().map(|o| o.keys().collect::<Vec<_>>()) {
            Some(keys) if keys.len() == 1 => keys[0].clone(),
            _ => {
                failures.push(format!("{file}: not a single-member root object"));
                continue;
            }
        };
        let actual = match reserialize(&key, &text) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{file} ({key}): {e}"));
                continue;
            }
        };
        let mut expected = original;
        for (i, (f, pointer, _reason)) in NORMALISATIONS.iter().enumerate() {
            if *f == file {
                let removed = remove_member(&mut expected, pointer);
                assert_eq!(
                    removed,
                    Some(Value::Null),
                    "{file}: normalisation {pointer}"
                );
                used_normalisations.insert(i);
            }
        }
        if actual != expected {
            failures.push(format!(
                "{file} ({key}): re-serialized value differs\n expected: {expected}\n   actual: {actual}"
            ));
        }
    }
    assert_eq!(
        used_normalisations.len(),
        NORMALISATIONS.len(),
        "every listed normalisation applies to an existing file"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn index_lists_every_example_file() {
    let index = fs::read_to_string(examples_dir().join("INDEX.md")).unwrap();
    let listed: BTreeSet<String> = index
        .lines()
        .filter(|l| l.starts_with("| `D."))
        .filter_map(|l| l.split('`').nth(1).map(str::to_owned))
        .collect();
    let present: BTreeSet<String> = example_files()
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, present);
}

fn selection(text: &str) -> SelectionCriteria {
    serde_json::from_str::<SelectionCriteriaRoot>(text)
        .unwrap()
        .selection_criteria
}

#[test]
fn sort_criteria_spellings_are_normalised() {
    let date_asc = SortCriterion {
        kind: SortType::Date,
        name: None,
        order: Some(SortOrder::Ascending),
    };
    let subject = SortCriterion {
        kind: SortType::Attribute,
        name: Some("Subject".into()),
        order: None,
    };
    let one = vec![date_asc.clone()];
    let two = vec![date_asc.clone(), subject.clone()];
    let c1 = r#"{"type": "Date", "order": "Ascending"}"#;
    let c2 = r#"{"type": "Attribute", "name": "Subject"}"#;
    let cases = [
        (format!(r#"{{"sortCriterion": {c1}}}"#), &one),
        (format!(r#"{{"sortCriterion": [{c1}, {c2}]}}"#), &two),
        (
            format!(r#"{{"sortCriteria": {{"criterion": [{c1}, {c2}]}}}}"#),
            &two,
        ),
        (
            format!(r#"{{"sortCriteria": {{"criterion": {c1}}}}}"#),
            &one,
        ),
        (format!(r#"{{"sortCriteria": [{c1}, {c2}]}}"#), &two),
        (format!(r#"{{"sortCriteria": {c1}}}"#), &one),
        (
            format!(r#"{{"sortCriterion": {{"criterion": [{c1}]}}}}"#),
            &one,
        ),
    ];
    for (body, want) in cases {
        let text = format!(
            r#"{{"selectionCriteria": {{"maxEntries": 3, {}}}}}"#,
            &body[1..body.len() - 1]
        );
        assert_eq!(&selection(&text).sort_criteria, want, "{text}");
    }
    assert!(selection(r#"{"selectionCriteria": {"maxEntries": 3}}"#)
        .sort_criteria
        .is_empty());

    // Both spellings at once: rejected as a duplicate field.
    let both = format!(
        r#"{{"selectionCriteria": {{"sortCriterion": {c1}, "sortCriteria": {{"criterion": [{c2}]}}}}}}"#
    );
    assert!(serde_json::from_str::<SelectionCriteriaRoot>(&both).is_err());
    // A sort criterion needs a type.
    let no_type = r#"{"selectionCriteria": {"sortCriterion": {"order": "Ascending"}}}"#;
    assert!(serde_json::from_str::<SelectionCriteriaRoot>(no_type).is_err());

    // Output: always `sortCriterion`, an object for one, an array for several.
    let out = |v: Vec<SortCriterion>| {
        serde_json::to_value(SelectionCriteria {
            max_entries: Some(3),
            sort_criteria: v,
            ..SelectionCriteria::default()
        })
        .unwrap()
    };
    assert_eq!(
        out(one),
        json!({"maxEntries": 3, "sortCriterion": {"type": "Date", "order": "Ascending"}})
    );
    assert_eq!(
        out(two),
        json!({"maxEntries": 3, "sortCriterion": [
            {"type": "Date", "order": "Ascending"},
            {"type": "Attribute", "name": "Subject"}
        ]})
    );
    assert_eq!(out(vec![]), json!({"maxEntries": 3}));
}

#[test]
fn numbers_may_be_strings_on_input_and_are_numbers_on_output() {
    let s =
        selection(r#"{"selectionCriteria": {"maxEntries": "25", "nonRecursiveScope": "true"}}"#);
    assert_eq!(s.max_entries, Some(25));
    assert_eq!(s.non_recursive_scope, Some(true));
    assert_eq!(
        serde_json::to_value(&s).unwrap(),
        json!({"maxEntries": 25, "nonRecursiveScope": true})
    );

    let folder: FolderRoot = serde_json::from_str(
        r#"{"folder": {"attributes": {"attribute": []}, "lastModSeq": " 18446744073709551615 "}}"#,
    )
    .unwrap();
    assert_eq!(folder.folder.last_mod_seq, Some(u64::MAX));

    let bulk: BulkResponseListRoot = serde_json::from_str(
        r#"{"bulkResponseList": {"response": [{"code": "404", "reason": "Not Found",
            "failure": {"serviceException": {"messageId": "SVC0004", "text": "t"}}}]}}"#,
    )
    .unwrap();
    assert_eq!(bulk.bulk_response_list.response[0].code, 404);
    assert_eq!(
        serde_json::to_value(&bulk).unwrap()["bulkResponseList"]["response"][0]["code"],
        json!(404)
    );

    let sub: NmsSubscriptionUpdateRoot =
        serde_json::from_str(r#"{"nmsSubscriptionUpdate": {"duration": "7200"}}"#).unwrap();
    assert_eq!(sub.nms_subscription_update.duration, Some(7200));

    // Null reads as absent.
    assert_eq!(
        selection(r#"{"selectionCriteria": {"maxEntries": null}}"#).max_entries,
        None
    );

    for bad in [
        r#""-1""#,
        "-1",
        r#""3x""#,
        "4294967296",
        r#""""#,
        "1.5",
        "true",
    ] {
        let text = format!(r#"{{"selectionCriteria": {{"maxEntries": {bad}}}}}"#);
        assert!(
            serde_json::from_str::<SelectionCriteriaRoot>(&text).is_err(),
            "maxEntries {bad} must be rejected"
        );
    }
}

#[test]
fn single_values_are_accepted_for_arrays() {
    let o: ObjectRoot = serde_json::from_str(
        r#"{"object": {
            "attributes": {"attribute": {"name": "Subject", "value": "Hi"}},
            "flags": {"flag": "\\Seen"},
            "payloadPart": {"contentType": "text/plain", "href": "/p/1", "size": "48"}
        }}"#,
    )
    .unwrap();
    assert_eq!(
        o.object.attributes.get("subject"),
        Some(&["Hi".to_owned()][..])
    );
    assert!(o.object.flags.contains("\\SEEN"));
    assert_eq!(o.object.payload_part[0].size, Some(48));
    assert_eq!(
        serde_json::to_value(&o).unwrap(),
        json!({"object": {
            "attributes": {"attribute": [{"name": "Subject", "value": ["Hi"]}]},
            "flags": {"flag": ["\\Seen"]},
            "payloadPart": [{"contentType": "text/plain", "href": "/p/1", "size": 48}]
        }})
    );

    let s = selection(
        r#"{"selectionCriteria": {"maxEntries": 1, "searchCriteria": {"criterion": {"type": "Flag", "name": "\\Seen", "value": "false"}, "operator": "NOT"}}}"#,
    );
    let sc = s.search_criteria.unwrap();
    assert_eq!(sc.criterion.len(), 1);
    assert_eq!(sc.effective_operator(), LogicalOperator::Not);

    // Absent lists read as empty and are written back as [].
    let f: FlagListRoot = serde_json::from_str(r#"{"flagList": {}}"#).unwrap();
    assert_eq!(
        serde_json::to_value(&f).unwrap(),
        json!({"flagList": {"flag": []}})
    );
}

#[test]
fn unknown_members_are_ignored() {
    let text = r#"{"nmsSubscription": {
        "callbackReference": {"notifyURL": "http://c/n", "x-vendor": 1},
        "filter": {"criterion": [{"type": "PresetSearch", "name": "RemoteParty", "value": "tel:+1", "extra": []}]},
        "duration": 60, "vendorExtension": {"a": "b"}
    }, "anotherRoot": true}"#;
    let s: NmsSubscriptionRoot = serde_json::from_str(text).unwrap();
    assert_eq!(
        s.nms_subscription.filter.unwrap().criterion[0].kind,
        SearchType::PresetSearch
    );
    // XSD-only search type.
    let c: SearchCriterion =
        serde_json::from_str(r#"{"type": "Conversation", "value": "c1"}"#).unwrap();
    assert_eq!(c.kind, SearchType::Conversation);
    // Unknown enumeration values are errors, not ignored.
    assert!(serde_json::from_str::<SearchCriterion>(r#"{"type": "Fuzzy", "value": ""}"#).is_err());
}

#[test]
fn empty_types_accept_null_and_object() {
    for text in [r#"{"empty": null}"#, r#"{"empty": {}}"#, "{}"] {
        let e: EmptyRoot = serde_json::from_str(text).unwrap();
        assert_eq!(
            serde_json::to_value(e).unwrap(),
            json!({"empty": null}),
            "{text}"
        );
    }
    let l: NmsEventListRoot = serde_json::from_str(
        r#"{"nmsEventList": {"nmsEvent": [{"resetBox": {}}, {"resetBox": null}], "index": "7"}}"#,
    )
    .unwrap();
    assert_eq!(
        l.nms_event_list.nms_event,
        vec![NmsEvent::ResetBox(ResetBox), NmsEvent::ResetBox(ResetBox)]
    );
    assert_eq!(
        serde_json::to_value(&l).unwrap(),
        json!({"nmsEventList": {"nmsEvent": [{"resetBox": null}, {"resetBox": null}], "index": 7}})
    );
}

#[test]
fn request_error_constructors() {
    let e = RequestErrorRoot {
        request_error: RequestError::service(
            "SVC0002",
            "Invalid input value for message part %1",
            ["/a//b"],
        ),
    };
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        json!({"requestError": {"serviceException": {
            "messageId": "SVC0002",
            "text": "Invalid input value for message part %1",
            "variables": ["/a//b"]
        }}})
    );
    let p = RequestError::policy(
        "POL1030",
        "Renaming this folder is not allowed",
        Vec::<String>::new(),
    );
    assert_eq!(
        serde_json::to_value(&p).unwrap(),
        json!({"policyException": {"messageId": "POL1030", "text": "Renaming this folder is not allowed"}})
    );
    let r = ResourceReferenceRoot {
        resource_reference: ResourceReference {
            resource_url: "http://h/nms/v1/s/b/objects/1".into(),
        },
    };
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        json!({"resourceReference": {"resourceURL": "http://h/nms/v1/s/b/objects/1"}})
    );
}
