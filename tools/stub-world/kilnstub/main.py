"""Entry point of the stub world's Python shims:
`python3.11 -I -S -B /usr/lib/kiln-shim/kilnstub/main.py TOOL ARGS...`
(the bash entry points log the call first; see shims/lib.sh)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run() -> int:
    tool, args = sys.argv[1], sys.argv[2:]
    if tool == "pip":
        from kilnstub import pip
        return pip.main(args)
    if tool == "wheel-download":
        from kilnstub import kernels
        try:
            kernels.prebuilt_wheel(args[0], args[1])
        except kernels.BuildFailed as e:
            print(f"curl: (22) The requested URL returned error: 404 ({e})", file=sys.stderr)
            return 22
        return 0
    if tool == "uv":
        from kilnstub import uv
        return uv.main(args)
    if tool == "git":
        from kilnstub import git
        return git.main(args)
    if tool == "cmake":
        from kilnstub import cmake
        return cmake.main(args)
    if tool == "apt-get":
        from kilnstub import apt
        return apt.main(args)
    if tool == "nvcc":
        from kilnstub import nvcc
        return nvcc.main(args)
    print(f"kiln stub: unknown tool {tool}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(run())
