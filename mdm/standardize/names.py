"""Company names: region, brand (字号), trade, legal form and branch read from a name; public institutions; English
names and the brand's pinyin (`mdm.latin_names`).

standardize_names → DataFrame
    name_norm  whole name: full-width → half-width (NFKC), traditional → simplified, upper-case
               Latin, brackets, former names ``（原…）``, whitespace and punctuation removed
    region     place written in the name, short form: 北京 / 武汉 / 昆山 / 广东 (in front, in
               brackets, or just before the legal form)
    core       字号, the brand: 同腾
    trade      行业 word(s): 建设工程, 环保科技, 医疗器械
    form       legal form: 有限公司, 股份有限公司, 集团有限公司, 集团, 有限合伙 …
    branch     branch part for a branch office: 上海分公司, 第3分公司 (Chinese numerals → digits)
    is_branch  branch is not null; a branch is its own legal entity (own USCC)
    name_key   core + trade: what two spellings of one company share (no region, form or branch)
    name_city  full city name the name points to: the branch's city for a branch, else the region's
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mdm.latin_names import chinese_trade_head, english_trade_head, latin_columns, pinyin_column
from mdm.standardize.arrow import (
    _NULL,
    _extract,
    _has,
    _lengths,
    _map_distinct,
    _nonempty,
    _np,
    _prefix_offsets,
    _slice_rows,
    _sub,
    _suffix_lengths,
    _suffix_run,
    _vocab,
    none_once,
    per_row,
    standardized,
)
from mdm.standardize.regions import (
    _LONG_NAME_RE,
    _district_in_front,
    _district_shorts,
    _name_region_tokens,
    _region_short,
    _resolve,
    _tokenize,
)
from mdm.standardize.text import _base_clean

# Legal forms; a regex alternation takes the longest that ends the name (leftmost start wins).
_FORMS = [
    "集团股份有限公司", "集团有限责任公司", "股份有限责任公司", "集团有限公司",
    "股份有限公司", "有限责任公司",
    "股份合作公司", "集团公司", "股份公司", "有限公司", "总公司", "公司", "集团",
    "合伙企业有限合伙", "合伙企业普通合伙", "有限合伙企业", "普通合伙企业",
    "有限合伙", "普通合伙", "合伙企业", "个人独资企业", "独资企业",
    "COMPANYLIMITED", "CORPORATION", "COLTD", "LIMITED", "LTD", "INC", "LLC", "GMBH", "CORP",
]  # fmt: skip
_FORM_RE = "(?:" + "|".join(sorted(_FORMS, key=len, reverse=True)) + ")$"

# Kinds of public institutions (事业单位, USCC category 12), read where a name has no company form.
_INSTITUTIONS = [
    "医院", "卫生院", "卫生服务中心", "妇幼保健院", "保健院", "疾病预防控制中心", "急救中心", "血站",
    "大学", "学院", "职业技术学院", "中学", "小学", "幼儿园", "学校", "研究院", "研究所", "科学院", "设计院",
    "图书馆", "博物馆", "档案馆", "文化馆", "体育馆", "检测中心", "检验所", "监测站", "气象局", "管理局",
    "管理处", "管理所", "管理站",
]  # fmt: skip
_INSTITUTION_RE = "(?:" + "|".join(sorted(_INSTITUTIONS, key=len, reverse=True)) + ")$"

# Industry words (行业); several may follow each other (信息技术 + 服务).
_TRADES = """
科技 技术 信息技术 信息科技 网络科技 网络技术 智能科技 智能技术 生物科技 生物技术 生物医药 环保科技 环境科技
电子科技 电子技术 新能源科技 新材料科技 数字科技 软件技术 计算机 互联网 大数据 云计算 人工智能 物联网
建设工程 建筑工程 工程 建设 建筑 建筑安装 装饰工程 装饰 装修 市政工程 园林绿化 园林 绿化 环境工程 环保工程
房地产开发 房地产 置业 地产 物业管理 物业服务 物业 投资管理 投资 投资控股 控股 资产管理 股权投资
贸易 商贸 国际贸易 进出口 外贸 工贸 经贸 实业 发展 产业 工业 制造 实业发展 科技发展
食品 餐饮管理 餐饮 饮料 酒业 茶业 乳业 粮油 农业 农业科技 林业 牧业 水产 生鲜 果蔬
医疗器械 医疗 医药 药业 制药 医疗科技 健康 健康管理 养老 卫生用品
化工 新材料 材料 塑料 橡胶 化学 涂料 能源 新能源 电力 电气 电器 电子 光电 照明 电缆 线缆 光伏 储能 电池
机械 机械设备 设备 机电 自动化 仪器 仪表 精密 模具 五金 钢铁 金属 铝业 钢结构 汽车 汽车配件 汽车销售 汽车服务
物流 供应链管理 供应链 运输 货运 快递 仓储 国际物流
咨询 管理咨询 企业管理 企业管理咨询 商务咨询 信息咨询 管理 商务 服务 技术服务 信息服务 数据服务
人力资源 劳务 保安服务 安防 消防 检测 认证 设计 规划设计 建筑设计 工程设计 测绘 监理
文化传媒 文化传播 文化 传媒 广告 影视 传播 动漫 游戏 体育 娱乐 教育科技 教育 培训 出版 印刷 包装
软件 通信 通讯 网络 信息 半导体 集成电路 电子商务 旅游 酒店管理 酒店 服装 服饰 纺织 家具 家居 建材 陶瓷 玻璃
金融 保险 融资租赁 租赁 担保 典当 拍卖 基金 证券
"""
_TRADE_RE = "(?:" + "|".join(sorted(set(_TRADES.split()), key=len, reverse=True)) + ")+$"

_BRACKETS = r"\[\]{}<>《》〈〉「」『』【】〔〕"
_BRANCH_SUFFIXES = "分公司|分行|支行|办事处|代表处|营业部|分店|分厂|分部|分所|分中心|分院|经营部|联络处"
_BRANCH_END_RE = f"(?:{_BRANCH_SUFFIXES})$"
_BRANCH_AFTER_FORM = re.compile(rf"^(.*(?:公司|集团|合伙|企业))(.*?(?:{_BRANCH_SUFFIXES}))$")
_CN_NUM = "零〇一二两三四五六七八九十百千"
_BRANCH_TAIL = re.compile(rf"^(.*?)((?:第?[0-9{_CN_NUM}]+号?)?(?:营业|销售|经营|服务)?(?:{_BRANCH_SUFFIXES}))$")
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}


def _cn_to_int(text: str) -> int | None:
    """一 → 1, 十二 → 12, 二十 → 20, 一百零五 → 105, 一二三 → 123; None if not a numeral."""
    if not text or any(c not in _CN_DIGITS and c not in _CN_UNITS for c in text):
        return None
    if not any(c in _CN_UNITS for c in text):
        return int("".join(str(_CN_DIGITS[c]) for c in text))
    total, digit = 0, None
    for c in text:
        if c in _CN_DIGITS:
            digit = _CN_DIGITS[c]
        else:
            total += (1 if digit is None else digit) * _CN_UNITS[c]
            digit = None
    return total + (digit or 0)


def _arabic_numerals(branch: str) -> str:
    """第三分公司 → 第3分公司, 十二分店 → 12分店."""

    def repl(m: re.Match[str]) -> str:
        n = _cn_to_int(m.group(0))
        return m.group(0) if n is None else str(n)

    return re.sub(rf"(?<=第)[{_CN_NUM}]+|[{_CN_NUM}]+(?=号?(?:{_BRANCH_SUFFIXES})$)", repl, branch)


def _split_branch(text: str) -> tuple[str | None, str | None]:
    """(parent name, branch part) of a name that ends like a branch office."""
    m = _BRANCH_AFTER_FORM.match(text)
    if m and m.group(2):
        head, branch = m.group(1), m.group(2)
    else:
        m2 = _BRANCH_TAIL.match(text)
        if not m2:
            return text, None
        head, branch = m2.group(1), m2.group(2)
        vocab = _name_region_tokens()
        while head:  # peel place names off the end: 同腾建设上海浦东新区分公司
            n = next((k for k in range(min(6, len(head)), 1, -1) if head[-k:] in vocab), 0)
            if not n:
                break
            head, branch = head[:-n], head[-n:] + branch
    if not head:
        return text, None
    return head, _arabic_numerals(branch)


@cache
def _trade_vocab() -> dict[int, pa.Array]:
    return _vocab(_TRADES.split())


@cache
def _name_prefix_vocab() -> dict[int, pa.Array]:
    return _vocab(_name_region_tokens(), max_len=5)


@cache
def _name_suffix_vocab() -> dict[int, pa.Array]:
    return _vocab(_name_region_tokens(), max_len=5)


@cache
def _name_long_suffix_vocab() -> dict[int, pa.Array]:
    return {k: v for k, v in _vocab(_name_region_tokens()).items() if k > 5}


def _region_suffix_lengths(arr: pa.Array) -> np.ndarray:
    """Length of a place name ending each string, leaving two characters before it."""
    got = _suffix_lengths(arr, _name_suffix_vocab(), keep=2)
    rows = np.flatnonzero(_np(_has(arr, _LONG_NAME_RE)))
    if len(rows):
        long = _suffix_lengths(arr.take(rows), _name_long_suffix_vocab(), keep=2)
        got[rows] = np.maximum(got[rows], long)
    return got


@none_once
def _names_distinct(u: pa.Array) -> dict[str, pa.Array]:
    x = _sub(_base_clean(u), rf"[^\p{{L}}\p{{N}}(){_BRACKETS}]+")  # spaces, punctuation, emoji
    n = len(x)
    bracket_region = pa.nulls(n, pa.string())
    former = pa.nulls(n, pa.string())
    name_norm = x
    rows = np.flatnonzero(_np(_has(x, f"[(){_BRACKETS}]")))
    if len(rows):  # brackets: unify, drop former names, read a place in them as the region
        mask = np.zeros(n, bool)
        mask[rows] = True
        b = _sub(_sub(x.take(rows), r"[\[{<《〈「『【〔]", "("), r"[\]}>》〉」』】〕]", ")")
        former_in = _extract(b, r"\((?:原名|曾用名|曾用|原)[:：]?(?P<f>[^()]+)", "f")
        former = pc.replace_with_mask(former, pa.array(mask), former_in)
        b = _sub(_sub(b, r"\((?:原|曾用名|原名|曾用)[^()]*(?:\)|$)"), r"\(\)")  # former names
        name_norm = pc.replace_with_mask(x, pa.array(mask), _sub(b, r"[()]"))
        inner = _extract(b, r"\((?P<b>[^()]+)\)", "b")
        is_region = _np(pc.is_in(inner, value_set=pa.array(sorted(_name_region_tokens()), pa.string())))
        drop = is_region | _np(pc.equal(inner, "中国"))  # (集团), (有限合伙) stay: they are the form
        b = pc.if_else(pa.array(drop), _sub(b, r"\([^()]+\)", "", max_replacements=1), b)
        x = pc.replace_with_mask(x, pa.array(mask), _sub(b, r"[()]"))
        bracket_region = pc.replace_with_mask(
            bracket_region, pa.array(mask), pc.if_else(pa.array(is_region), inner, _NULL)
        )
    name_norm = _nonempty(name_norm)

    # Branch: 某某有限公司上海分公司 → parent 某某有限公司 + branch 上海分公司.
    branch = pa.nulls(n, pa.string())
    is_br = np.flatnonzero(_np(_has(x, _BRANCH_END_RE)))
    if len(is_br):
        head, br = _map_distinct(x.take(is_br), _split_branch, 2)
        mask = pa.array(np.isin(np.arange(n), is_br))
        x = pc.replace_with_mask(x, mask, head)
        branch = pc.replace_with_mask(branch, mask, br)

    form = _extract(x, f"(?P<f>{_FORM_RE})", "f")
    # Public institutions (医院, 学校, 研究所): no company form; their kind takes its place.
    kind = pc.if_else(pc.is_null(form), _extract(x, f"(?P<k>{_INSTITUTION_RE})", "k"), _NULL)
    institution = _np(pc.is_valid(kind)) & _np(pc.greater(pc.utf8_length(x), pc.fill_null(pc.utf8_length(kind), 0)))
    form = pc.coalesce(form, pc.if_else(pa.array(institution), kind, _NULL))
    body = _slice_rows(x, drop_end=_lengths(form))

    # Region in front (北京同腾…, 广东省深圳市…) unless nothing would be left.
    total, last = _prefix_offsets(body, _name_prefix_vocab(), rounds=3)
    long_rows = np.flatnonzero(_np(_has(pc.utf8_slice_codeunits(body, 0, 12), _LONG_NAME_RE)))
    for i, text in zip(long_rows, body.take(long_rows).to_pylist(), strict=True):
        toks = _tokenize(text, _name_region_tokens())
        total[i], last[i] = sum(map(len, toks)), len(toks[-1]) if toks else 0
    body_len = _lengths(body)
    # A place name followed by trade words only is the brand itself: 瑞安文化传媒, 德宏信息技术.
    cand = np.flatnonzero((total > 0) & (total < body_len))
    brand = _np(_has(_slice_rows(body.take(cand), start=total[cand]), f"^{_TRADE_RE}"))
    total[cand[brand]] -= last[cand[brand]]
    prefix = _nonempty(_slice_rows(body, drop_end=body_len - total))
    total = np.where((total >= body_len) & ~institution, 0, total)  # 北京市海淀区 + 医院: nothing but the place
    rest = _slice_rows(body, start=total)
    # …or just before the form: 同腾建设工程武汉有限公司 (what name_norm makes of a bracket region).
    tail = _region_suffix_lengths(rest)
    suffix_region = _nonempty(_slice_rows(rest, start=_lengths(rest) - tail))
    rest = _slice_rows(rest, drop_end=tail)

    # Trade words at the end, leaving a core of two characters at least.
    trade_len = _suffix_run(rest, _trade_vocab(), keep=2, rounds=3)
    trade = _nonempty(_slice_rows(rest, start=_lengths(rest) - trade_len))
    core = _slice_rows(rest, drop_end=trade_len)
    # …or between brand and trade: 同腾北京建设工程 (what name_norm makes of 同腾（北京）建设工程).
    mid = np.where(trade_len > 0, _region_suffix_lengths(core), 0)
    mid_region = _nonempty(_slice_rows(core, start=_lengths(core) - mid))
    core = _nonempty(_slice_rows(core, drop_end=mid))
    name_key = _nonempty(pc.binary_join_element_wise(pc.fill_null(core, ""), pc.fill_null(trade, ""), ""))

    region_text = pc.coalesce(prefix, bracket_region, suffix_region, mid_region)

    def region(text: str) -> tuple[str | None, str | None, str | None]:
        tokens = tuple(_tokenize(text, _name_region_tokens()))
        return (*_region_short(tokens), _resolve(tokens)[2] if tokens else None)

    region_short, region_city, region_district = _map_distinct(region_text, region, 3)
    # An institution is named by its district (北京市海淀区中医医院 ≠ 北京市朝阳区中医医院): the district is part
    # of its name key and an attribute two records of one customer never disagree on.
    inst = pa.array(institution)
    inst_district = pc.if_else(inst, region_district, _NULL)
    late = np.flatnonzero(institution & _np(pc.is_null(inst_district)) & _np(pc.is_valid(core)))
    if len(late):  # 北京海淀妇幼保健院: the district written short after the city
        got = [_district_in_front(c, k) for c, k in zip(region_city.take(late).to_pylist(),
                                                         core.take(late).to_pylist(), strict=True)]
        mask = pa.array(np.isin(np.arange(n), late))
        inst_district = pc.replace_with_mask(inst_district, mask, pa.array([g[0] for g in got], pa.string()))
        core = pc.replace_with_mask(core, mask, pa.array([g[1] for g in got], pa.string()))
    district_short = pc.coalesce(pc.take(pa.array(list(_district_shorts().values()), pa.string()), pc.index_in(
        inst_district, value_set=pa.array(list(_district_shorts()), pa.string()))), inst_district)
    inst_key = pc.binary_join_element_wise(pc.fill_null(district_short, ""), pc.fill_null(core, ""),
                                           pc.fill_null(trade, ""), pc.fill_null(form, ""), "")
    name_key = pc.if_else(inst, _nonempty(inst_key), name_key)
    # A group (集团) and the companies of its brand are different legal entities.
    group = pc.if_else(_has(pc.fill_null(form, ""), "集团"), "group",
                       pc.if_else(pc.and_(pc.is_valid(form), pc.invert(inst)), "member", _NULL))

    def branch_city(text: str) -> tuple[str | None]:
        return (_resolve(tuple(_tokenize(text, _name_region_tokens())))[1],)

    (br_city,) = _map_distinct(branch, branch_city, 1)
    out = {
        "name_norm": name_norm,
        "region": region_short,
        "core": core,
        "trade": trade,
        "form": _nonempty(form),
        "branch": branch,
        "is_branch": pc.is_valid(branch),
        "name_key": name_key,
        "name_city": pc.coalesce(br_city, region_city),
        "former": _nonempty(former),
        "institution_district": inst_district,
        "group_key": group,
    }
    return _with_latin(u, out)


def _with_latin(u: pa.Array, out: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """English names replace what the Chinese reading made of them (brand, trade, form, city; no name key: a
    Chinese and an English name are compared by their pinyin brand); every name gets its brand's pinyin."""
    lat = latin_columns(pc.utf8_normalize(u, "NFKC"))
    is_lat = lat["is_latin"]
    py = pinyin_column(out["core"], pc.binary_join_element_wise(pc.fill_null(out["core"], ""),
                                                                pc.fill_null(out["trade"], ""), ""))
    out["brand_pinyin"] = pc.if_else(is_lat, lat["brand"], py)
    vocab = frozenset(_TRADES.split())
    enc = out["trade"].dictionary_encode()
    zh_head = pc.take(pa.array([chinese_trade_head(t, vocab) for t in enc.dictionary.to_pylist()], pa.string()),
                      enc.indices)
    enc = lat["trade"].dictionary_encode()
    en_head = pc.take(pa.array([english_trade_head(t) for t in enc.dictionary.to_pylist()], pa.string()),
                      enc.indices)
    out["trade_head"] = pc.if_else(is_lat, en_head, zh_head)
    out["brand_trade"] = _nonempty(pc.binary_join_element_wise(pc.fill_null(out["brand_pinyin"], ""),
                                                               pc.fill_null(out["trade_head"], ""), "|"))
    out["brand_trade"] = pc.if_else(pc.is_null(out["brand_pinyin"]), _NULL, out["brand_trade"])
    out["latin"] = pc.if_else(is_lat, "Y", _NULL)
    if not pc.any(is_lat).as_py():
        return out
    for key, col in (("core", "brand"), ("trade", "trade"), ("form", "form"), ("region", "region"),
                     ("name_city", "city")):
        out[key] = pc.if_else(is_lat, lat[col], out[key])
    out["name_key"] = pc.if_else(is_lat, _NULL, out["name_key"])
    out["group_key"] = pc.if_else(is_lat, pc.if_else(pc.equal(lat["form"], "集团有限公司"), "group",
                                                     pc.if_else(pc.is_valid(lat["form"]), "member", _NULL)),
                                  out["group_key"])
    return out


def name_columns(names: pa.Array) -> dict[str, pa.Array]:
    """Company names (Arrow) → the columns of `standardize_names`, row-aligned Arrow arrays."""
    return per_row(_names_distinct, names)


def standardize_names(s: pd.Series) -> pd.DataFrame:
    """Company-name column → name_norm, region, core, trade, form, branch, is_branch, name_key, name_city."""
    return standardized(_names_distinct, s)
