"""The regex helpers' two paths (Arrow's RE2 for many values, the `regex` module for a few) give the same results:
pattern by pattern where RE2 and Python differ, and for the whole standardizer record by record."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from mdm import arrow_regex
from mdm.specs import derive_customer_columns
from mdm.standardize import standardize_customers

# Strings on which RE2 and Python's engines part ways: a trailing new line before `$`, Unicode digits and spaces
# for \d \s \w, CJK, controls, emoji, empty and null.
TEXTS = ["abc", "abc\n", "a\nb", "", None, "１２３", "٣٤٥", "12 34", "12\u300034", "12\v34", "a_b-c", "北京1号",
         "Ab cD", "x\ty", "😀9", "\x00z", "021-51803117转8\n", "ext.123", "[a]", "a$b", "{,2}", "aa"]
CASES = [  # (pattern, replacement for sub)
    (r"\d+", "#"), (r"\D+", ""), (r"\s+", "_"), (r"\S+", "<\\0>"), (r"\w+", "[\\0]"), (r"\W", ""),
    (r"c$", "C"), (r"^a", "A"), (r"(\d)(\d)", "\\2\\1"), (r"[^\d+]+", "-"), (r"[\s\p{P}]+", ""),
    (r"[^\p{L}\p{N}]+", ""), (r"[\x20-\x7e]", "."), (r"\x{5317}", "N"), (r"[\]a]", "!"), (r"[]a]", "?"),
    (r"a|b$", "-"), (r"(?:转|ext\.?)\s*(\d{1,6})\s*$", ""), (r"\\", "/"), (r"\$", "S"), (r"a\z", "Z"),
    (r"[\d\s]+", "+"), (r"[$]", "D"), (r"\p{Han}+", "H"), (r"a", "\\\\"),
]
UNRENDERED = [r"(?i)ab", r"\bab", r"a{,2}", r"[[:alpha:]]", r"\Qa.b\E", r"(a)\1", r"[\D]", r"\C", r"(?P=x)",
              # cut short: an escape or a class left open
              "a\\", r"\p{L", r"a\p{L", r"a\p", r"\x{41", r"[a", r"[^]a"]
# RE2 patterns and their exact `regex` renderings: ASCII classes inside and outside brackets, `$` and `\z` as the
# very end, Unicode properties and hex escapes as written (`\x{…}` as `\U…`), brackets that are literals escaped.
TRANSLATED = [
    (r"\d\D[\d\s\w]\S\W\w$", r"[0-9][^0-9][0-9\t\n\f\r 0-9A-Za-z_][^\t\n\f\r ][^0-9A-Za-z_][0-9A-Za-z_]\Z"),
    (r"\p{Han}\pL\PN\P{Lu}\x41\x{5317}a\z", r"\p{Han}\pL\PN\P{Lu}\x41\U00005317a\Z"),
    (r"\x{4EAC}+\p{Han}", r"\U00004eac+\p{Han}"),
    (r"a{2}\p{Han}\x{4EAC}{1,2}\p{L}{3}", r"a{2}\p{Han}\U00004eac{1,2}\p{L}{3}"),  # a `}` before and after
    (r"[\pL\PN]\pN", r"[\pL\PN]\pN"),
    (r"[]a][^]b][a[b][$]x", r"[\]a][^\]b][a\[b][$]x"),
    (r"[]\d][^]]", r"[\]0-9][^\]]"),  # an escape or `]` right after the leading `]`
    (r"(?:a)(?P<n>b)(c)a{2,}\.\t\\\$", r"(?:a)(?P<n>b)(c)a{2,}\.\t\\\$"),
    (r"[^\s-]{1,3}", r"[^\t\n\f\r -]{1,3}"),
]


@pytest.fixture(autouse=True)
def _translated_afresh() -> None:
    """Each test translates and compiles its patterns itself: none reads another test's cached translation."""
    arrow_regex.compiled.cache_clear()
    arrow_regex._template.cache_clear()


def arrow_sub(arr: pa.Array, pattern: str, repl: str) -> pa.Array:
    return pc.replace_substring_regex(arr, pattern, repl)


@pytest.mark.parametrize(("pattern", "repl"), CASES)
def test_a_few_values_give_what_arrow_gives_where_the_engines_differ(pattern: str, repl: str) -> None:
    arr = pa.array(TEXTS, pa.string())
    for part in (arr.slice(0, arrow_regex.FEW), arr.slice(arrow_regex.FEW)):
        few = arrow_regex._few_has(part, pattern)
        assert few is not None, pattern  # rendered: the Python path was taken
        assert few.equals(pc.match_substring_regex(part, pattern)), pattern
        assert arrow_regex._few_sub(part, pattern, repl, None).equals(arrow_sub(part, pattern, repl)), pattern
        once = arrow_regex._few_sub(part, pattern, repl, 1)
        assert once.equals(pc.replace_substring_regex(part, pattern, repl, max_replacements=1)), pattern


def test_named_groups_are_extracted_as_arrow_does_including_groups_that_take_no_part() -> None:
    arr = pa.array(["021-51803117", "51803117", "x", None, "0755 1234567\n", "010-８８８８８８８８"], pa.string())
    pattern = r"^(?P<a>0\d{2,3})?[- ]?(?P<s>[2-9]\d{6,7})$"
    few = arrow_regex._few_groups(arr, pattern)
    assert few is not None
    assert few.equals(pc.extract_regex(arr, pattern))
    assert few.to_pylist()[1] == {"a": "", "s": "51803117"}  # the area code takes no part: "" as in Arrow
    assert few.to_pylist()[4] is None  # `$` is the very end: not before the new line
    assert arrow_regex._few_groups(arr, r"(\d+)") is None  # Arrow wants every group named
    # the fields in the order of the groups, not of their names
    later = r"(?P<s>[2-9]\d{6,7})(?P<a>\d)?$"
    few = arrow_regex._few_groups(arr, later)
    assert few.equals(pc.extract_regex(arr, later))
    assert [f.name for f in few.type] == ["s", "a"]
    assert few.to_pylist()[0] == {"s": "51803117", "a": ""}


@pytest.mark.parametrize("pattern", UNRENDERED)
def test_patterns_the_translation_cannot_render_exactly_stay_with_arrow(pattern: str) -> None:
    assert arrow_regex.translate(pattern) is None
    arr = pa.array(["ab", "AB"], pa.string())
    assert arrow_regex._few_has(arr, pattern) is None
    assert arrow_regex._few_sub(arr, pattern, "-", None) is None
    assert arrow_regex._few_groups(arr, pattern) is None


def test_a_few_values_with_a_pattern_left_to_arrow_give_arrows_results() -> None:
    arr = pa.array(["ab cd", "AB", None, "xab"], pa.string())
    assert arrow_regex.has(arr, r"\bab").to_pylist() == [True, False, None, False]
    assert arrow_regex.sub(arr, r"(?i)ab", "-").to_pylist() == ["- cd", "-", None, "x-"]
    assert arrow_regex.groups(arr, r"(?i)(?P<x>a)(?P<y>b)").to_pylist() == [
        {"x": "a", "y": "b"}, {"x": "A", "y": "B"}, None, {"x": "a", "y": "b"}]


def test_a_replacement_the_template_cannot_render_is_left_to_arrow_which_refuses_it() -> None:
    arr = pa.array(["ab"], pa.string())
    assert arrow_regex._few_sub(arr, "a", r"\x", None) is None
    with pytest.raises(pa.ArrowInvalid, match="Rewrite schema"):
        arrow_regex.sub(arr, "a", r"\x")


def test_no_values_or_only_nulls_keep_arrows_types() -> None:
    pattern = r"(?P<b>a)(?P<a>b)?"
    for arr in (pa.array([], pa.string()), pa.array([None, None], pa.string())):
        assert arrow_regex._few_sub(arr, "a", "b", None).equals(pc.replace_substring_regex(arr, "a", "b"))
        assert arrow_regex._few_has(arr, "a").equals(pc.match_substring_regex(arr, "a"))
        assert arrow_regex._few_groups(arr, pattern).equals(pc.extract_regex(arr, pattern))
        assert arrow_regex._few_groups(arr, pattern).type == pa.struct([("b", pa.string()), ("a", pa.string())])


@pytest.mark.parametrize(("pattern", "expected"), TRANSLATED)
def test_patterns_are_translated_exactly(pattern: str, expected: str) -> None:
    assert arrow_regex.translate(pattern) == expected
    arr = pa.array(["x", "]a", "$", "[b", "北京", None], pa.string())
    assert arrow_regex._few_has(arr, pattern).equals(pc.match_substring_regex(arr, pattern)), pattern


def test_a_replacement_that_can_match_nothing_stays_with_arrow_whose_empty_matches_differ() -> None:
    arr = pa.array(["abxd"], pa.string())
    assert arrow_regex._few_sub(arr, "x*", "-", None) is None  # Python: -a-b--d-, RE2: -a-b-d-
    assert arrow_regex.sub(arr, "x*", "-").to_pylist() == ["-a-b-d-"]
    assert arrow_regex._few_has(arr, "x*") is not None  # a search gives the same either way


def test_many_values_go_to_arrow_and_a_few_to_python_with_the_same_results() -> None:
    many = pa.array(TEXTS * 3, pa.string())
    assert len(many) > arrow_regex.FEW and arrow_regex._few_has(many, r"\d") is None
    assert arrow_regex.has(many, r"\d$").to_pylist() == pc.match_substring_regex(many, r"\d$").to_pylist()
    assert arrow_regex.sub(many[:3], r"c$", "C").to_pylist() == ["abC", "abc\n", "a\nb"]
    assert arrow_regex.has(pa.chunked_array([many[:2]]), "b").to_pylist() == [True, True]  # chunked: Arrow's
    assert arrow_regex._few_sub(many, r"\d", "#", None) is None
    assert arrow_regex._few_groups(many, r"(?P<d>\d)") is None
    assert arrow_regex.sub(many, r"\d", "#", 1).equals(pc.replace_substring_regex(many, r"\d", "#", max_replacements=1))
    assert arrow_regex.sub(many, r"\d").equals(pc.replace_substring_regex(many, r"\d", ""))
    assert arrow_regex.groups(many, r"(?P<d>\d)(?P<e>\d)?").equals(pc.extract_regex(many, r"(?P<d>\d)(?P<e>\d)?"))
    few = pa.array(["a1b22", None], pa.string())
    assert arrow_regex.sub(few, r"\d").to_pylist() == ["ab", None]  # the replacement by default: ""
    assert arrow_regex.sub(few, r"\d", "#", 1).to_pylist() == ["a#b22", None]


def records() -> pd.DataFrame:
    """Generated customer records of three sources, with e-mails, former names and odd values added."""
    from demo.generate import generate

    data = generate(n_entities=120, seed=11)
    parts = [
        data.crm_a.rename(columns={"cust_id": "source_key", "cust_name": "name", "tax_code": "uscc", "tel": "phone"}),
        data.crm_b.rename(columns={"客户编号": "source_key", "客户名称": "name", "统一社会信用代码": "uscc",
                                   "联系电话": "phone", "详细地址": "address", "联系人": "contact_name"}),
        data.erp_customers.rename(columns={"FCUSTID": "source_key", "FNAME": "name", "FSHORTNAME": "short_name",
                                           "FTAXREGISTERCODE": "uscc", "FADDRESS": "address", "FTEL": "phone"}),
    ]
    cols = ["name", "short_name", "uscc", "phone", "address", "contact_name"]
    recs = pd.concat([p.reindex(columns=cols) for p in parts], ignore_index=True).astype(object)
    odd = pd.DataFrame({
        "name": ["上海瑞丰信息技术有限公司\n", "北京１２３科技有限公司", "ABC Trading Co., Ltd.",
                 "华信科技（原化信电子）", "\u3000", "深圳市南山区分公司", "test", "x\vy有限公司", None,
                 "中国银行股份有限公司北京分行"],
        "uscc": ["91310115MA1H7XXX0X\n", "９１３１０１１５ＭＡ１Ｈ７", "I2345678O", None, "", "12100000400000624D",
                 "abc", "0", "911100001000000000", "\t"],
        "phone": ["021-51803117转8\n", "０２１ ５１８０ ３１１７", "+86 138 0013 8000", "400-820-8820", "13800000000",
                  "010-8888888 / 13912345678", "ext.12", "٣٤٥٦٧٨٩٠", "(0755)1234567#99", None],
        "address": ["上海市浦东新区张江路88号\n", "北京市朝阳区", "中国广东省深圳市南山区科技园", "无", "见合同",
                    "吉林省长春市朝阳区", "  ", "123", None, "朝阳区建国路1号"],
        "contact_name": ["张三", "新联系人", "王 经理", "某某", "", None, "Mr. Li", "李\n", "啊啊", "x"],
        "email": ["test@test.com", "A.B@Corp.CN ", "x", None, "123456@qq.com", "li@example.com", "无@a.cn",
                  "a@b.c", "z@zz.com\n", ""],
        "former_name": [None, "北京化信电子有限公司", None, "", None, None, "上海旧名有限公司\n", None, None, None],
    })
    recs = pd.concat([recs, odd], ignore_index=True)
    return recs.assign(source_name="s", stream="customers", source_key=[str(i) for i in range(len(recs))])


def test_standardizing_a_few_records_at_a_time_gives_exactly_the_whole_runs_columns() -> None:
    """The match API standardizes one record (the Python path of every regex); a run standardizes many at once
    (Arrow's). Record for record, every column and type is the same."""
    recs = records()
    whole = derive_customer_columns(standardize_customers(recs))
    assert len(recs) > 300  # far more distinct values than FEW: the whole run's regexes are Arrow's
    few = pd.concat([derive_customer_columns(standardize_customers(recs.iloc[i:i + 2]))
                     for i in range(0, len(recs), 2)])
    pd.testing.assert_frame_equal(few, whole)
    assert whole["phone_ext"].notna().sum() > 0 and whole["email_std"].notna().sum() > 0  # the corpus reaches them


def test_a_one_record_standardization_runs_no_arrow_regex_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pattern the standardizer uses is rendered: none falls back to Arrow's per-call compilation (a pattern
    added that cannot be would cost the match API its latency without failing anything else)."""
    calls: list[str] = []
    for name in ("replace_substring_regex", "match_substring_regex", "extract_regex"):
        kernel = getattr(pc, name)

        def spy(arr: pa.Array, pattern: str, *a: object, _k: object = kernel, **kw: object) -> pa.Array:
            calls.append(pattern)
            return _k(arr, pattern, *a, **kw)  # type: ignore[operator]

        monkeypatch.setattr(pc, name, spy)
    recs = records()
    for i in (0, len(recs) - 10, len(recs) - 9, len(recs) - 7, len(recs) - 1):
        standardize_customers(recs.iloc[i:i + 1])
    assert calls == []
