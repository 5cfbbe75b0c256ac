//! Layering, files and their damage.

use super::*;

struct Dirs {
    _tmp: tempfile::TempDir,
    paths: Paths,
}

fn dirs(with_project: bool) -> Dirs {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("proj").join(crate::project::ARXFILE);
    if with_project {
        std::fs::create_dir_all(project.parent().unwrap()).unwrap();
        crate::project::Arxfile {
            id: "p1".into(),
            name: "Project".into(),
            ..Default::default()
        }
        .save(&project)
        .unwrap();
    }
    let paths = Paths {
        global_dir: Some(tmp.path().join("cfg").join("arxos")),
        project: with_project.then_some(project),
    };
    Dirs { _tmp: tmp, paths }
}

#[test]
fn flags_over_project_over_global_over_defaults() {
    let d = dirs(true);
    let c = Config::load(d.paths.clone()).unwrap();
    let e = c.get("sync.conflict-resolution").unwrap().unwrap();
    assert_eq!(
        (e.origin, e.value.as_str()),
        (Origin::Default, Some("prompt"))
    );
    set(
        &d.paths,
        Scope::Global,
        "sync.conflict-resolution",
        "manual",
    )
    .unwrap();
    set(&d.paths, Scope::Project, "sync.conflict-resolution", "auto").unwrap();
    set(&d.paths, Scope::Global, "sync.update-interval", "5m").unwrap();
    let c = Config::load(d.paths.clone()).unwrap();
    assert_eq!(c.conflict_resolution(), "auto");
    assert_eq!(c.update_interval(), Duration::from_mins(5));
    let c = c
        .with_flags(&["sync.conflict-resolution=prompt".into()])
        .unwrap();
    let e = c.get("sync.conflict-resolution").unwrap().unwrap();
    assert_eq!(e.origin, Origin::Flag);
    assert_eq!(c.conflict_resolution(), "prompt");
    // Unsetting the project value uncovers the global one.
    assert!(unset(&d.paths, Scope::Project, "sync.conflict-resolution").unwrap());
    assert!(!unset(&d.paths, Scope::Project, "sync.conflict-resolution").unwrap());
    let c = Config::load(d.paths.clone()).unwrap();
    assert_eq!(c.conflict_resolution(), "manual");
    let section = c.get_section("sync").unwrap();
    assert_eq!(
        section.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
        [
            "sync.enabled",
            "sync.conflict-resolution",
            "sync.update-interval"
        ]
    );
}

#[test]
fn the_global_user_section_is_the_settings_file() {
    let d = dirs(false);
    set(&d.paths, Scope::Global, "user.name", "Ana Ruiz").unwrap();
    set(&d.paths, Scope::Global, "user.colour", "#1E88E5").unwrap();
    let settings = d.paths.global_dir.as_ref().unwrap().join("settings.json");
    let s = arxos_sync::identity::Settings::load_from(&settings).unwrap();
    assert_eq!(s.name.as_deref(), Some("Ana Ruiz"));
    assert_eq!(s.color.as_deref(), Some("#1e88e5"));
    let c = Config::load(d.paths.clone()).unwrap();
    assert_eq!(c.user_name().as_deref(), Some("Ana Ruiz"));
    assert!(unset(&d.paths, Scope::Global, "user.name").unwrap());
    let c = Config::load(d.paths.clone()).unwrap();
    assert_eq!(c.user_name(), None);
    assert_eq!(c.user_colour().as_deref(), Some("#1e88e5"));
    let e = set(&d.paths, Scope::Project, "user.name", "x").unwrap_err();
    assert!(e.to_string().contains("arxfile.json"), "{e}");
}

#[test]
fn a_damaged_file_is_named_with_its_line_and_never_overwritten() {
    let d = dirs(false);
    let file = d.paths.global_dir.as_ref().unwrap().join("config.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let bad = b"{\n  \"sync\": {\n    \"enabled\": maybe\n  }\n}\n";
    std::fs::write(&file, bad).unwrap();
    let e = set(&d.paths, Scope::Global, "sync.enabled", "false")
        .unwrap_err()
        .to_string();
    assert!(e.contains("config.json line 3"), "{e}");
    assert_eq!(std::fs::read(&file).unwrap(), bad);
    let e = Config::load(d.paths.clone()).unwrap_err().to_string();
    assert!(e.contains("config.json line 3"), "{e}");

    // Well-formed JSON with a bad value or an unknown key names the key.
    std::fs::write(&file, br#"{"sync": {"update-interval": "0s"}}"#).unwrap();
    let e = Config::load(d.paths.clone()).unwrap_err().to_string();
    assert!(
        e.contains("sync.update-interval") && e.contains("zero"),
        "{e}"
    );
    std::fs::write(&file, br#"{"sync": {"colour": "red"}}"#).unwrap();
    let e = set(&d.paths, Scope::Global, "sync.enabled", "false")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown setting `sync.colour`"), "{e}");
}

#[test]
fn a_misspelt_project_field_is_refused() {
    let d = dirs(true);
    let p = d.paths.project.clone().unwrap();
    std::fs::write(&p, b"{\"id\": \"p\", \"name\": \"n\",\n \"plan\": []}").unwrap();
    let e = Config::load(d.paths.clone()).unwrap_err().to_string();
    assert!(
        e.contains("arxfile.json line 2") && e.contains("plan"),
        "{e}"
    );
}
