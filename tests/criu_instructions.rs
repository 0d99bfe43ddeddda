//! The ways to a CRIU that can do the job, as the real binary gives them
//! for image roots of distributions dockpoint does not install on itself:
//! Ubuntu (the archive's criu is not a way on most releases), Enterprise
//! Linux 7 (yum, not dnf), Debian derivatives without ID_LIKE.

mod common;
use common::*;

const NOBLE: &str = "PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\nVERSION=\"24.04.1 LTS (Noble Numbat)\"\nVERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\nUBUNTU_CODENAME=noble\n";

/// A root holding only `os_release`.
fn root(os_release: &str) -> Root {
    let r = Root::empty();
    r.write("/etc/os-release", os_release);
    r
}

/// The index of the first line of `text` holding `needle`.
fn line(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no `{needle}` in:\n{text}"))
}

/// The Ubuntu 24.04 ways: the first way offered is the CRIU team's PPA
/// (dockpoint's `--criu-source ppa`, or by hand), its OBS project is
/// offered too, the text says why the archive's criu is not a way, and the
/// archive's criu is never offered.
fn assert_ubuntu_noble_ways(text: &str) {
    let ways: Vec<&str> = text
        .lines()
        .map(str::trim_start)
        .filter(|l| {
            l.starts_with("dockpoint setup --criu-source")
                || l.starts_with("add-apt-repository")
                || l.starts_with("apt-get")
                || l.starts_with("or ")
        })
        .collect();
    let first = ways
        .first()
        .unwrap_or_else(|| panic!("no ways in:\n{text}"));
    assert!(
        first.starts_with("dockpoint setup --criu-source ppa")
            || first.starts_with("add-apt-repository ppa:criu/ppa"),
        "the first way is not the PPA ({first}):\n{text}"
    );
    assert!(
        ways.iter()
            .any(|w| w.contains("devel:tools:criu") && w.contains("xUbuntu_24.04")),
        "no OBS way:\n{text}"
    );
    line(
        text,
        "The archive's criu is not a way here: Ubuntu 24.04's criu package is not installable in practice (criu#2404, LP#2066148)",
    );
    line(
        text,
        "add-apt-repository ppa:criu/ppa && apt-get update && apt-get install criu",
    );
    line(
        text,
        "--criu-base URL: the base of the PPA's (or the openSUSE Build Service's) download server, or your mirror of it",
    );
    assert!(
        !ways.iter().any(|w| w.starts_with("apt-get")),
        "the archive's criu offered:\n{text}"
    );
}

#[test]
fn ubuntu_24_04_setup_leads_with_the_ppa_and_obs_and_says_why() {
    let r = root(NOBLE);
    let before = r.snapshot();
    let run = r.setup(&["--dry-run", "--no-restart"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let step = &run.stdout[run
        .stdout
        .find("criu-install")
        .expect("no criu-install step")..];
    let step = &step[..step.find("runc-conf").unwrap_or(step.len())];
    assert!(
        step.contains("Install CRIU >= 4.2.0 on Ubuntu 24.04.1 LTS (Ubuntu 24.04, noble)"),
        "{step}"
    );
    assert_ubuntu_noble_ways(step);
    assert_eq!(r.snapshot(), before, "a dry run changed the root");
}

#[test]
fn ubuntu_24_04_doctor_gives_the_same_ways() {
    let r = root(NOBLE);
    let run = run(&[
        "doctor",
        "--root",
        r.dir.path().to_str().unwrap(),
        "--only",
        "criu.installed",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 1, "{}", run.all());
    let check = &run.json()["checks"][0];
    assert_eq!(check["id"], "criu.installed");
    assert_ubuntu_noble_ways(check["fix"].as_str().unwrap());
}

#[test]
fn ubuntu_derivatives_are_judged_by_their_ubuntu_release() {
    // Linux Mint 22 is Ubuntu 24.04 (UBUNTU_CODENAME=noble).
    let r = root(
        "PRETTY_NAME=\"Linux Mint 22\"\nID=linuxmint\nID_LIKE=\"ubuntu debian\"\nVERSION_ID=\"22\"\nVERSION_CODENAME=wilma\nUBUNTU_CODENAME=noble\n",
    );
    let run = r.setup(&["--dry-run", "--no-restart"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout
            .contains("Install CRIU >= 4.2.0 on Linux Mint 22 (Ubuntu 24.04, noble)"),
        "{}",
        run.stdout
    );
    assert_ubuntu_noble_ways(&run.stdout);
}

#[test]
fn enterprise_linux_7_is_told_yum() {
    for os in [
        "NAME=\"CentOS Linux\"\nVERSION=\"7 (Core)\"\nID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\nPRETTY_NAME=\"CentOS Linux 7 (Core)\"\n",
        "NAME=\"Amazon Linux\"\nVERSION=\"2\"\nID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"\nVERSION_ID=\"2\"\nPRETTY_NAME=\"Amazon Linux 2\"\n",
        "NAME=\"XCP-ng\"\nVERSION=\"8.2.1\"\nID=\"XCP-ng\"\nID_LIKE=\"centos rhel fedora\"\nVERSION_ID=\"8.2.1\"\nPRETTY_NAME=\"XCP-ng 8.2.1\"\n",
    ] {
        let r = root(os);
        let run = r.setup(&["--dry-run", "--no-restart"]);
        assert_eq!(run.code, 0, "{}", run.all());
        assert!(
            run.stdout.contains("\n  yum install criu\n"),
            "{os}:\n{}",
            run.stdout
        );
        assert!(!run.stdout.contains("dnf"), "{os}:\n{}", run.stdout);
    }
    // Their successors have dnf.
    let r = root("NAME=\"Amazon Linux\"\nID=\"amzn\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"2023\"\n");
    let run = r.setup(&["--dry-run", "--no-restart"]);
    assert!(
        run.stdout.contains("\n  dnf install criu\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn deepin_without_id_like_is_debian_family() {
    let r = root(
        "PRETTY_NAME=\"Deepin 20.9\"\nNAME=\"Deepin\"\nVERSION_ID=\"20.9\"\nVERSION=\"20.9\"\nVERSION_CODENAME=\"apricot\"\nID=Deepin\n",
    );
    let run = run(&[
        "doctor",
        "--root",
        r.dir.path().to_str().unwrap(),
        "--only",
        "host.distro",
    ]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout
            .contains("Deepin 20.9 [debian family, from /etc/os-release]"),
        "{}",
        run.stdout
    );
}
