"""Placeholder values typed into CRMs: text that fills a required field but identifies nothing.

`新联系人`, `无`, `未知`, `13800000000`, `123456`, `test@test.com` are not a contact, a phone or an
e-mail of anybody. Compared as they are, fifteen companies sharing `新联系人` and `13800000000` look like
one. This module recognizes them by their shape (a word that means "none", a title without a name, one
digit repeated, a run of consecutive digits) with a few well-known values besides; standardization turns
them into missing values. Values that are merely too common (a contact name shared by many companies)
are the model's business: `mdm.classify.common_values` finds them by frequency.

Vectorized: every test is an Arrow regex, comparison or hash lookup.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from mdm.arrow_regex import has as _has
from mdm.arrow_regex import sub as _sub

# Words that mean "nothing here" in any text field (after NFKC, lower-case, no spaces or punctuation).
_EMPTY_WORDS = "|".join([
    "无", "没有", "暂无", "未知", "不详", "不清楚", "不知道", "空", "待定", "待补充", "待完善", "未填", "未填写",
    "其他", "其它", "同上", "见上", "略", "保密", "测试", "某+", "某某公司",
    r"test", r"testing", r"null", r"none", r"nil", r"na", r"n/?a", r"unknown", r"tbd", r"xx+", r"x", r"0+", r"1",
    r"-+", r"\?+", r"？+",
])
# A contact that is only a role or title: 新联系人, 联系人2, 老板, 王总? (a surname + title is a person: kept).
_CONTACT_WORDS = r"(?:新建?)?联系人\d*|客户\d*|老板|老板娘|经理|总经理|负责人|财务|采购|前台|先生|女士|小姐|老师|" \
                 r"总|主任|业务员|销售|默认联系人|主联系人|联系人姓名|姓名|name|contact|admin|管理员"
_ADDRESS_WORDS = r"见合同|详见合同|见附件|地址不详|无地址|暂无地址|中国|china"
# Phones: the last eight digits all one digit, consecutive runs, and a few famous service numbers.
_PHONE_KNOWN = ("13800138000", "10086", "10010", "10000", "12345678", "123456", "1234567", "87654321")
_SEQUENCES = "0123456789012345678909876543210987654321"
_EMAIL_LOCAL = r"test|none|null|no|noemail|nomail|noreply|xxx+|x|a|abc|123|1234|123456|email|mail|无|暂无"
_EMAIL_DOMAIN = r"(?:test|example|xxx+|abc|none|null|email|mail)\.(?:com|cn|net|org)"


def _clean(values: pa.Array) -> pa.Array:
    """NFKC, lower case, without whitespace and the punctuation people type around a placeholder."""
    x = pc.utf8_lower(pc.utf8_normalize(values, "NFKC"))
    return _sub(x, r"[\s　.,;:'\"()（）\[\]【】、，。；：·_*#~]+", "")


def _full(arr: pa.Array, pattern: str) -> pa.Array:
    return pc.fill_null(_has(arr, f"^(?:{pattern})$"), False)


def text_placeholder(values: pa.Array, kind: str = "text") -> pa.Array:
    """True where a value of a free-text field (`kind`: text, contact, address) is a placeholder; an empty
    value counts as one (it is missing)."""
    x = _clean(values)
    hit = pc.or_(_full(x, _EMPTY_WORDS), pc.fill_null(pc.equal(pc.utf8_length(x), 0), True))
    hit = pc.or_(hit, _one_char_repeated(x, 2 if kind == "contact" else 3))  # 啊啊啊, xxxx; contacts: 某某
    hit = pc.or_(hit, _full(x, r"[\d\p{P}\p{S}]+"))  # only digits and signs: not a name, not an address
    if kind == "contact":
        hit = pc.or_(hit, _full(x, _CONTACT_WORDS))
    elif kind == "address":
        hit = pc.or_(hit, _full(x, _ADDRESS_WORDS))
    return pc.fill_null(hit, True)


def _one_char_repeated(x: pa.Array, at_least: int) -> pa.Array:
    """True where a value is one character written `at_least` times or more (RE2 has no back-references: the
    first character repeated to the value's length is the value itself)."""
    n = pc.utf8_length(x)
    again = pc.binary_repeat(pc.utf8_slice_codeunits(x, 0, 1), n)
    return pc.fill_null(pc.and_(pc.greater_equal(n, at_least), pc.equal(again, x)), False)


def phone_placeholder(digits: pa.Array) -> pa.Array:
    """True where a phone number (its digits, any format) is a placeholder: its last eight digits one digit
    repeated (13800000000, 88888888), a run of consecutive digits (12345678), or a well-known service number."""
    d = _sub(digits, r"\D+", "")
    last8 = pc.utf8_slice_codeunits(d, -8)
    same = _full(last8, r"0+|1+|2+|3+|4+|5+|6+|7+|8+|9+")
    known = pc.fill_null(pc.is_in(d, value_set=pa.array(_PHONE_KNOWN, pa.string())), False)
    run = _in_sequences(last8)
    return pc.or_(pc.or_(same, known), run)


def _in_sequences(last8: pa.Array) -> pa.Array:
    """True where a value of six to eight digits is a run of consecutive digits (up or down)."""
    return pc.fill_null(pc.is_in(last8, value_set=_RUNS), False)


_RUNS = pa.array(sorted({_SEQUENCES[i:i + n] for n in (6, 7, 8) for i in range(len(_SEQUENCES) - n + 1)}), pa.string())


def email_placeholder(emails: pa.Array) -> pa.Array:
    """True where an e-mail address is a placeholder (test@test.com, 123456@qq.com, none@…) or no address at
    all (no @, no dot in the domain)."""
    x = pc.utf8_lower(pc.utf8_trim_whitespace(pc.utf8_normalize(emails, "NFKC")))
    shape = _full(x, r"[^@\s]+@[^@\s]+\.[a-z]{2,}")
    same_digit = "|".join(f"{d}+" for d in range(10))
    local = pc.fill_null(_has(x, rf"^(?:{_EMAIL_LOCAL}|{same_digit}|0?123456789?)@"), False)
    domain = pc.fill_null(_has(x, rf"@{_EMAIL_DOMAIN}$"), False)
    return pc.or_(pc.invert(shape), pc.or_(local, domain))
