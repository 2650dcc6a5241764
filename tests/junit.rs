//! `verify --format junit` is JUnit XML as CI systems read it: checked here against the rules of
//! the JUnit schema that Jenkins, GitLab and GitHub's test reporters accept (elements, their
//! required and allowed attributes, their children, numbers that are numbers, and counts that
//! agree with the test cases), on the fixture course (no libtorch needed).

mod common;

use std::collections::HashMap;

use common::Course;
use quick_xml::events::Event;

/// An XML element: its name, attributes, children and text.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attributes: HashMap<String, String>,
    children: Vec<Element>,
    text: String,
}

fn parse(xml: &str) -> Element {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack = vec![Element::default()];
    let open = |start: &quick_xml::events::BytesStart| Element {
        name: String::from_utf8(start.name().as_ref().to_vec()).unwrap(),
        attributes: start
            .attributes()
            .map(|a| {
                let a = a.unwrap();
                (
                    String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                    a.normalized_value(quick_xml::XmlVersion::Explicit1_0).unwrap().into_owned(),
                )
            })
            .collect(),
        ..Element::default()
    };
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(start) => stack.push(open(&start)),
            Event::Empty(start) => {
                let element = open(&start);
                stack.last_mut().unwrap().children.push(element);
            }
            Event::End(_) => {
                let element = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(element);
            }
            Event::Text(text) => stack.last_mut().unwrap().text.push_str(&text.decode().unwrap()),
            Event::GeneralRef(r) => {
                stack.last_mut().unwrap().text.push_str(&format!("&{};", r.decode().unwrap()))
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut document = stack.pop().unwrap();
    assert_eq!(document.children.len(), 1, "one root element");
    document.children.pop().unwrap()
}

/// The schema's rules for one element: required and allowed attributes (with which must be
/// whole numbers or decimals) and allowed children.
struct Rule {
    required: &'static [&'static str],
    optional: &'static [&'static str],
    integers: &'static [&'static str],
    decimals: &'static [&'static str],
    children: &'static [&'static str],
}

fn rule(name: &str) -> Rule {
    match name {
        "testsuites" => Rule {
            required: &[],
            optional: &[
                "name",
                "time",
                "tests",
                "failures",
                "errors",
                "disabled",
                "skipped",
                "timestamp",
                "uuid",
            ],
            integers: &["tests", "failures", "errors", "disabled", "skipped"],
            decimals: &["time"],
            children: &["testsuite"],
        },
        "testsuite" => Rule {
            required: &["name", "tests"],
            optional: &[
                "failures",
                "errors",
                "skipped",
                "disabled",
                "time",
                "timestamp",
                "hostname",
                "id",
                "package",
            ],
            integers: &["tests", "failures", "errors", "skipped", "disabled"],
            decimals: &["time"],
            children: &["properties", "testcase", "system-out", "system-err"],
        },
        "testcase" => Rule {
            required: &["name"],
            optional: &["classname", "time", "assertions", "status", "timestamp"],
            integers: &["assertions"],
            decimals: &["time"],
            children: &["skipped", "error", "failure", "system-out", "system-err"],
        },
        "failure" | "error" | "skipped" => Rule {
            required: &[],
            optional: &["message", "type"],
            integers: &[],
            decimals: &[],
            children: &[],
        },
        "system-out" | "system-err" => {
            Rule { required: &[], optional: &[], integers: &[], decimals: &[], children: &[] }
        }
        other => panic!("<{other}> is not an element of the JUnit schema"),
    }
}

fn validate(element: &Element) {
    let rule = rule(&element.name);
    for required in rule.required {
        assert!(element.attributes.contains_key(*required), "<{}> lacks `{required}`", element.name);
    }
    for (name, value) in &element.attributes {
        assert!(
            rule.required.contains(&name.as_str()) || rule.optional.contains(&name.as_str()),
            "<{}> has no attribute `{name}` in the schema",
            element.name
        );
        if rule.integers.contains(&name.as_str()) {
            assert!(
                value.parse::<u64>().is_ok(),
                "<{} {name}={value:?}> is not a whole number",
                element.name
            );
        }
        if rule.decimals.contains(&name.as_str()) {
            assert!(
                value.parse::<f64>().is_ok_and(|v| v >= 0.0),
                "<{} {name}={value:?}> is not a time",
                element.name
            );
        }
    }
    for child in &element.children {
        assert!(
            rule.children.contains(&child.name.as_str()),
            "<{}> cannot hold <{}>",
            element.name,
            child.name
        );
        validate(child);
    }
    if element.name == "testsuite" {
        let cases: Vec<&Element> = element.children.iter().filter(|c| c.name == "testcase").collect();
        let count = |kind: &str| cases.iter().filter(|c| c.children.iter().any(|x| x.name == kind)).count();
        let attribute = |name: &str| element.attributes.get(name).map_or(0, |v| v.parse::<usize>().unwrap());
        assert_eq!(attribute("tests"), cases.len(), "tests of {:?}", element.attributes);
        assert_eq!(attribute("failures"), count("failure"), "failures of {:?}", element.attributes);
        assert_eq!(attribute("errors"), count("error"), "errors of {:?}", element.attributes);
        assert_eq!(attribute("skipped"), count("skipped"), "skipped of {:?}", element.attributes);
    }
}

#[test]
fn verify_writes_junit_that_the_schema_accepts() {
    let course = Course::new();
    course.write_add("a + b");
    course.write("exercises/00_basics/square.rs", "pub fn square(x: i64) -> i64 { x * 2 }\nfn main() {}\n");
    let output = course.cmd(&["verify", "--format", "junit"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let xml = String::from_utf8(output.stdout).unwrap();
    let root = parse(&xml);
    assert_eq!(root.name, "testsuites");
    validate(&root);

    let suites: HashMap<&str, &Element> =
        root.children.iter().map(|s| (s.attributes["name"].as_str(), s)).collect();
    // A passing exercise: a test case per check, all passing.
    let add = suites["add"];
    assert_eq!(add.children.iter().filter(|c| c.name == "testcase").count(), 2);
    assert!(add.children.iter().all(|c| c.children.is_empty()));
    assert_eq!(add.children[0].attributes["classname"], "00_basics");
    // A failing check: its message in the failure.
    let square = suites["square"];
    let failure = square
        .children
        .iter()
        .flat_map(|c| &c.children)
        .find(|x| x.name == "failure")
        .expect("square has a failed check");
    assert!(failure.attributes["message"].contains("square"), "{:?}", failure.attributes);
    // An exercise that does not compile: one test case, an error, with the compiler's words.
    let typed = suites["typed"];
    let error = typed.children[0].children.iter().find(|x| x.name == "error").expect("an error");
    assert_eq!(error.attributes["message"], "it does not compile");
    assert!(error.text.contains("error[E0308]"), "{}", error.text);
}

#[test]
fn the_validator_rejects_what_the_schema_does() {
    let bad = [
        r#"<testsuites><testsuite name="a" tests="1"><testcase/></testsuite></testsuites>"#,
        r#"<testsuites><testsuite name="a" tests="2"><testcase name="x"/></testsuite></testsuites>"#,
        r#"<testsuites><testsuite name="a" tests="1" failures="0"><testcase name="x"><failure/></testcase></testsuite></testsuites>"#,
        r#"<testsuites><testsuite name="a" tests="1"><testcase name="x" time="soon"/></testsuite></testsuites>"#,
        r#"<testsuites><testsuite name="a" tests="1"><check name="x"/></testsuite></testsuites>"#,
    ];
    for xml in bad {
        assert!(std::panic::catch_unwind(|| validate(&parse(xml))).is_err(), "accepted: {xml}");
    }
}
