"""fqe_onnx.machine: the CPU and SIMD flags a benchmark or a set of vectors names."""

from __future__ import annotations

from fqe_onnx.machine import describe, describe_line

CPUINFO = """processor\t: 0
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse4_2 avx fma avx2 avx512f avx512bw avx512vl avx512_vnni sha_ni
processor\t: 1
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse4_2
"""


def test_the_first_cpus_model_and_simd_flags_are_read_in_a_fixed_order(tmp_path):
    (tmp_path / "cpuinfo").write_text(CPUINFO)
    info = describe(tmp_path / "cpuinfo")
    assert info["cpu"] == "AMD EPYC 9R14" and info["cores"] >= 1
    assert info["simd"] == ["sse4_2", "avx", "fma", "avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni"]
    assert describe_line(tmp_path / "cpuinfo").endswith(
        "SIMD sse4_2 avx fma avx2 avx512f avx512bw avx512vl avx512_vnni (AVX-512)"
    )


def test_an_avx2_machine_says_it_has_no_avx512_and_a_missing_file_is_no_error(tmp_path):
    (tmp_path / "cpuinfo").write_text(CPUINFO.replace(" avx512f avx512bw avx512vl avx512_vnni", ""))
    assert describe_line(tmp_path / "cpuinfo").endswith("SIMD sse4_2 avx fma avx2 (no AVX-512)")
    missing = describe(tmp_path / "nothing")
    assert missing["simd"] == [] and missing["cpu"]
    assert "SIMD none listed (no AVX-512)" in describe_line(tmp_path / "nothing")
