"""Behaviour of installer/install.sh, run against a small fake bundle in a temporary HOME.

Run with: /usr/bin/python3 -m pytest tests/installer
Nothing here builds the real plugin: the fake bundle has the same layout as plugin/build-bundle.sh's output,
so install, uninstall and packaging are checked in seconds without dotnet.
"""
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "installer" / "install.sh"
BUNDLE = "DiffusionPlugin.vst3"
ORT_VERSION = "1.31.0"

BUNDLE_FILES = {
    "Contents/x86_64-linux/DiffusionPlugin.so": b"\x7fELF fake plugin",
    "Contents/x86_64-linux/libonnxruntime.so": b"\x7fELF fake onnxruntime",
    "Contents/Resources/moduleinfo.json": b'{"Name": "DiffusionPlugin"}\n',
    "Contents/Resources/models/drums/manifest.json": b'{"formatVersion": 1}\n',
    "Contents/Resources/models/drums/model.onnx": b"fake onnx graph",
}
CUDA_PROVIDER = "Contents/x86_64-linux/libonnxruntime_providers_cuda.so"
SHARED_PROVIDER = "Contents/x86_64-linux/libonnxruntime_providers_shared.so"


@pytest.fixture
def env(tmp_path):
    """A temporary HOME, a fake bundle and a fake NuGet cache holding the CUDA provider."""
    home = tmp_path / "home"
    home.mkdir()
    bundle = tmp_path / "build" / BUNDLE
    for rel, data in BUNDLE_FILES.items():
        path = bundle / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    native = (tmp_path / "nuget" / "microsoft.ml.onnxruntime.gpu.linux" / ORT_VERSION
              / "runtimes" / "linux-x64" / "native")
    native.mkdir(parents=True)
    (native / "libonnxruntime_providers_cuda.so").write_bytes(b"fake cuda provider")
    (native / "libonnxruntime_providers_shared.so").write_bytes(b"fake shared provider")
    variables = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    variables.update(HOME=str(home), NUGET_PACKAGES=str(tmp_path / "nuget"))
    variables.pop("DESTDIR", None)
    return {"tmp": tmp_path, "home": home, "bundle": bundle, "vars": variables}


def run(env, *args, check=True, extra=None):
    variables = dict(env["vars"])
    variables.update(extra or {})
    result = subprocess.run(["bash", str(INSTALL), *args], env=variables, capture_output=True, text=True,
                            timeout=120)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def install(env, *args, **kw):
    return run(env, "--bundle", str(env["bundle"]), *args, **kw)


def tree(root):
    """Every file and folder under root, relative, with file contents: a snapshot to compare."""
    snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            snapshot[os.path.relpath(os.path.join(dirpath, d), root) + "/"] = None
        for f in filenames:
            p = os.path.join(dirpath, f)
            snapshot[os.path.relpath(p, root)] = (Path(p).read_bytes(), os.stat(p).st_mtime_ns)
    return snapshot


def manifest(env):
    path = env["home"] / ".local" / "share" / "DiffusionPlugin" / "installed-files.txt"
    lines = [l for l in path.read_text().splitlines() if l and not l.startswith("#")]
    return [l for l in lines if not l.endswith("/")], [l for l in lines if l.endswith("/")]


def test_default_install_puts_the_bundle_into_the_users_vst3_folder(env):
    install(env)
    target = env["home"] / ".vst3" / BUNDLE
    for rel, data in BUNDLE_FILES.items():
        assert (target / rel).read_bytes() == data
    assert os.access(target / "Contents/x86_64-linux/DiffusionPlugin.so", os.X_OK)
    assert not (target / CUDA_PROVIDER).exists()


def test_manifest_lists_exactly_the_installed_files(env):
    install(env)
    files, _ = manifest(env)
    target = env["home"] / ".vst3" / BUNDLE
    assert sorted(files) == sorted(str(target / rel) for rel in BUNDLE_FILES)


def test_reinstalling_changes_nothing(env):
    install(env)
    before = tree(env["home"])
    install(env)
    assert tree(env["home"]) == before


def test_reinstalling_a_newer_bundle_replaces_changed_files(env):
    install(env)
    (env["bundle"] / "Contents/Resources/models/drums/model.onnx").write_bytes(b"retrained graph")
    install(env)
    installed = env["home"] / ".vst3" / BUNDLE / "Contents/Resources/models/drums/model.onnx"
    assert installed.read_bytes() == b"retrained graph"


def test_uninstall_removes_everything_it_created_when_the_folders_were_new(env):
    install(env)
    run(env, "--uninstall")
    assert tree(env["home"]) == {}


def test_uninstall_keeps_what_others_put_beside_the_bundle(env):
    vst3 = env["home"] / ".vst3"
    (vst3 / "Other.vst3").mkdir(parents=True)
    (vst3 / "Other.vst3" / "keep.txt").write_text("someone else's plugin")
    (env["home"] / ".local" / "share").mkdir(parents=True)
    before = tree(env["home"])
    install(env)
    user_preset = vst3 / BUNDLE / "Contents" / "Resources" / "my-preset.txt"
    user_preset.write_text("user data")
    run(env, "--uninstall")
    after = tree(env["home"])
    assert user_preset.read_text() == "user data"
    del after[str(user_preset.relative_to(env["home"]))]
    for folder in (f"{BUNDLE}/", f"{BUNDLE}/Contents/", f"{BUNDLE}/Contents/Resources/"):
        del after[".vst3/" + folder]
    assert after == before


def test_uninstall_without_an_install_says_so_and_succeeds(env):
    result = run(env, "--uninstall")
    assert "nothing to uninstall" in result.stdout


def test_cuda_adds_the_cuda_provider_from_the_nuget_cache(env):
    install(env, "--cuda")
    target = env["home"] / ".vst3" / BUNDLE
    assert (target / CUDA_PROVIDER).read_bytes() == b"fake cuda provider"
    assert (target / SHARED_PROVIDER).read_bytes() == b"fake shared provider"
    files, _ = manifest(env)
    assert str(target / CUDA_PROVIDER) in files


def test_a_cpu_install_after_a_cuda_install_removes_the_cuda_provider(env):
    install(env, "--cuda")
    install(env)
    target = env["home"] / ".vst3" / BUNDLE
    assert not (target / CUDA_PROVIDER).exists()
    files, _ = manifest(env)
    assert str(target / CUDA_PROVIDER) not in files
    run(env, "--uninstall")
    assert tree(env["home"]) == {}


def test_cuda_without_the_nuget_package_names_what_to_restore(env):
    result = install(env, "--cuda", check=False, extra={"NUGET_PACKAGES": str(env["tmp"] / "empty")})
    assert result.returncode != 0
    assert "Microsoft.ML.OnnxRuntime.Gpu.Linux" in result.stderr
    assert not (env["home"] / ".vst3").exists()


def test_system_install_goes_to_usr_lib_vst3_with_its_own_manifest(env):
    root = env["tmp"] / "root"
    install(env, "--system", extra={"DESTDIR": str(root)})
    assert (root / "usr/lib/vst3" / BUNDLE / "Contents/x86_64-linux/DiffusionPlugin.so").is_file()
    listed = (root / "var/lib/DiffusionPlugin/installed-files.txt").read_text()
    assert f"/usr/lib/vst3/{BUNDLE}/Contents/x86_64-linux/DiffusionPlugin.so" in listed.splitlines()
    (root / "usr/lib/vst3/Other.vst3").mkdir()
    run(env, "--system", "--uninstall", extra={"DESTDIR": str(root)})
    assert sorted(p for p in tree(root) if p.endswith("/")) == ["usr/", "usr/lib/", "usr/lib/vst3/",
                                                                "usr/lib/vst3/Other.vst3/"]


def test_deb_installs_the_bundle_under_usr_lib_vst3(env):
    out = env["tmp"] / "out"
    install(env, "--deb", "--out", str(out))
    debs = list(out.glob("*.deb"))
    assert [d.name for d in debs] == ["diffusion-plugin_0.1.0_amd64.deb"]
    listing = subprocess.run(["dpkg-deb", "-c", str(debs[0])], capture_output=True, text=True, check=True).stdout
    paths = {line.split()[-1] for line in listing.splitlines()}
    for rel in BUNDLE_FILES:
        assert f"./usr/lib/vst3/{BUNDLE}/{rel}" in paths
    assert not any("providers_cuda" in p for p in paths)
    assert all(line.split()[1] == "root/root" for line in listing.splitlines())
    field = lambda name: subprocess.run(["dpkg-deb", "-f", str(debs[0]), name], capture_output=True, text=True,
                                        check=True).stdout.strip()
    assert field("Package") == "diffusion-plugin"
    assert field("Architecture") == "amd64"
    assert not (env["home"] / ".vst3").exists(), "--deb only packs, it does not install"


def test_deb_installs_and_removes_cleanly_with_dpkg(env):
    out = env["tmp"] / "out"
    install(env, "--deb", "--out", str(out))
    root = env["tmp"] / "dpkg-root"       # a scratch dpkg database: the machine's own stays untouched
    for folder in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "var/log"):
        (root / folder).mkdir(parents=True)
    (root / "var/lib/dpkg/status").touch()
    dpkg = ["dpkg", f"--root={root}", f"--log={root}/var/log/dpkg.log", "--force-script-chrootless"]
    subprocess.run([*dpkg, "--force-depends", "-i", str(out / "diffusion-plugin_0.1.0_amd64.deb")],
                   capture_output=True, check=True)
    plugin = root / "usr/lib/vst3" / BUNDLE / "Contents/x86_64-linux/DiffusionPlugin.so"
    assert plugin.read_bytes() == BUNDLE_FILES["Contents/x86_64-linux/DiffusionPlugin.so"]
    subprocess.run([*dpkg, "-r", "diffusion-plugin"], capture_output=True, check=True)
    assert not (root / "usr").exists()


def test_cuda_deb_is_a_separate_package_carrying_the_provider(env):
    out = env["tmp"] / "out"
    install(env, "--deb", "--cuda", "--out", str(out))
    deb = out / "diffusion-plugin-cuda_0.1.0_amd64.deb"
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    assert f"./usr/lib/vst3/{BUNDLE}/{CUDA_PROVIDER}" in listing
    conflicts = subprocess.run(["dpkg-deb", "-f", str(deb), "Conflicts"], capture_output=True, text=True).stdout
    assert conflicts.strip() == "diffusion-plugin"


def test_tarball_holds_the_bundle_at_its_top(env):
    out = env["tmp"] / "out"
    install(env, "--tarball", "--out", str(out))
    archive = out / "DiffusionPlugin-0.1.0-linux-x64.tar.gz"
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
        for rel, data in BUNDLE_FILES.items():
            assert tar.extractfile(members[f"{BUNDLE}/{rel}"]).read() == data
        assert all(m.uid == 0 and m.gid == 0 for m in members.values())
        assert members[f"{BUNDLE}/Contents/x86_64-linux/DiffusionPlugin.so"].mode & 0o111


def test_packages_are_reproducible(env):
    first, second = env["tmp"] / "a", env["tmp"] / "b"
    install(env, "--deb", "--tarball", "--out", str(first))
    install(env, "--deb", "--tarball", "--out", str(second))
    for name in ("diffusion-plugin_0.1.0_amd64.deb", "DiffusionPlugin-0.1.0-linux-x64.tar.gz"):
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_a_folder_without_the_plugin_library_is_refused(env):
    (env["bundle"] / "Contents/x86_64-linux/DiffusionPlugin.so").unlink()
    result = install(env, check=False)
    assert result.returncode != 0
    assert "not a DiffusionPlugin bundle" in result.stderr
    assert not (env["home"] / ".vst3").exists()


def test_a_missing_tool_is_named_with_its_debian_package(env):
    bin_dir = env["tmp"] / "bin"
    bin_dir.mkdir()
    for folder in ("/usr/bin", "/bin"):
        for name in os.listdir(folder):
            link = bin_dir / name
            if name != "dpkg-deb" and not link.exists():
                link.symlink_to(os.path.join(folder, name))
    result = install(env, "--deb", "--out", str(env["tmp"] / "out"), check=False,
                     extra={"PATH": str(bin_dir)})
    assert result.returncode != 0
    assert "install the Debian package 'dpkg'" in result.stderr


def test_unknown_options_are_refused_with_the_usage(env):
    result = run(env, "--frobnicate", check=False)
    assert result.returncode == 2
    assert "Usage:" in result.stderr


ARDOUR_SCANNER = next(iter(sorted(Path("/usr/lib").glob("ardour*/ardour-vst3-scanner"))), None)
REAL_BUNDLE = os.environ.get("DIFFUSIONPLUGIN_BUNDLE")


@pytest.mark.skipif(not REAL_BUNDLE or not ARDOUR_SCANNER,
                    reason="needs the built bundle (DIFFUSIONPLUGIN_BUNDLE, set by tests/run-all.sh) and Ardour")
def test_the_installed_real_bundle_is_found_by_ardours_vst3_scanner(env):
    run(env, "--bundle", REAL_BUNDLE)
    installed = env["home"] / ".vst3" / BUNDLE
    variables = dict(env["vars"], XDG_CACHE_HOME=str(env["tmp"] / "cache"),
                     LD_LIBRARY_PATH=str(ARDOUR_SCANNER.parent))
    scan = subprocess.run([str(ARDOUR_SCANNER), "-f", "-v", str(installed)], env=variables, capture_output=True,
                          text=True, timeout=120)
    found = [line.split("Found Plugin: ", 1)[1].strip() for line in (scan.stdout + scan.stderr).splitlines()
             if "Found Plugin: " in line]
    assert sorted(found) == ["Diffusion Drums", "Diffusion Widener"], scan.stdout + scan.stderr
    run(env, "--uninstall")
    assert not (env["home"] / ".vst3").exists()


def test_a_relative_dest_is_recorded_as_an_absolute_path(env):
    work = env["tmp"] / "work"
    work.mkdir()
    variables = dict(env["vars"])
    subprocess.run(["bash", str(INSTALL), "--bundle", str(env["bundle"]), "--dest", "plugins"], cwd=work,
                   env=variables, check=True, capture_output=True)
    files, _ = manifest(env)
    assert str(work / "plugins" / BUNDLE / "Contents/x86_64-linux/DiffusionPlugin.so") in files
    run(env, "--uninstall")          # from another working directory
    assert not (work / "plugins").exists()
