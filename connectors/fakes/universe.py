"""The demo universe: seeded, synthetic real-world companies and the sales reps who own them.

Everything is vectorized with numpy/pandas so that a few hundred thousand companies take seconds.
The same ``(n_entities, seed)`` always gives the same universe; the demo sources, the matching
benchmark and the fake vendor API servers all draw their customers from it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "BRAND_CHARS",
    "CITIES",
    "HOMOPHONES",
    "KIND_SHARES",
    "TEAMS",
    "TRADES",
    "USCC_ALPHABET",
    "make_sales_reps",
    "make_universe",
    "uscc_is_valid",
]

# city | province ('' for a municipality) | landline area code | sales team | weight |
# first 4 digits of the administrative division code | districts, each with the last 2 digits
_CITY_TABLE = """
北京||010|华北大区|10|1101|东城区01 西城区02 朝阳区05 丰台区06 海淀区08 通州区12
天津||022|华北大区|4|1201|和平区01 河东区02 河西区03 南开区04 滨海新区16
石家庄|河北省|0311|华北大区|1|1301|长安区02 桥西区04 新华区05 裕华区08
太原|山西省|0351|华北大区|1|1401|小店区05 迎泽区06 杏花岭区07 万柏林区09
呼和浩特|内蒙古自治区|0471|华北大区|1|1501|新城区02 回民区03 玉泉区04 赛罕区05
济南|山东省|0531|华北大区|2|3701|历下区02 市中区03 槐荫区04 天桥区05 历城区12
青岛|山东省|0532|华北大区|3|3702|市南区02 市北区03 黄岛区11 崂山区12 李沧区13 城阳区14
烟台|山东省|0535|华北大区|1|3706|芝罘区02 福山区11 牟平区12 莱山区13
沈阳|辽宁省|024|华北大区|2|2101|和平区02 沈河区03 大东区04 皇姑区05 铁西区06
大连|辽宁省|0411|华北大区|2|2102|中山区02 西岗区03 沙河口区04 甘井子区11
长春|吉林省|0431|华北大区|1|2201|南关区02 宽城区03 朝阳区04 二道区05 绿园区06
哈尔滨|黑龙江省|0451|华北大区|1|2301|道里区02 南岗区03 道外区04 香坊区10
上海||021|华东大区|10|3101|黄浦区01 徐汇区04 长宁区05 静安区06 普陀区07 闵行区12 浦东新区15
南京|江苏省|025|华东大区|5|3201|玄武区02 秦淮区04 建邺区05 鼓楼区06 栖霞区13 江宁区15
苏州|江苏省|0512|华东大区|5|3205|虎丘区05 吴中区06 相城区07 姑苏区08 吴江区09
无锡|江苏省|0510|华东大区|2|3202|锡山区05 惠山区06 滨湖区11 梁溪区13 新吴区14
常州|江苏省|0519|华东大区|1|3204|天宁区02 钟楼区04 新北区11 武进区12
徐州|江苏省|0516|华东大区|1|3203|鼓楼区02 云龙区03 贾汪区05 泉山区11
杭州|浙江省|0571|华东大区|6|3301|上城区02 拱墅区05 西湖区06 滨江区08 萧山区09 余杭区10
宁波|浙江省|0574|华东大区|3|3302|海曙区03 江北区05 北仑区06 镇海区11 鄞州区12
温州|浙江省|0577|华东大区|1|3303|鹿城区02 龙湾区03 瓯海区04
绍兴|浙江省|0575|华东大区|1|3306|越城区02 柯桥区03 上虞区04
嘉兴|浙江省|0573|华东大区|1|3304|南湖区02 秀洲区11
金华|浙江省|0579|华东大区|1|3307|婺城区02 金东区03
合肥|安徽省|0551|华东大区|3|3401|瑶海区02 庐阳区03 蜀山区04 包河区11
广州|广东省|020|华南大区|8|4401|荔湾区03 越秀区04 海珠区05 天河区06 白云区11 黄埔区12 番禺区13
深圳|广东省|0755|华南大区|8|4403|罗湖区03 福田区04 南山区05 宝安区06 龙岗区07 龙华区09
佛山|广东省|0757|华南大区|2|4406|禅城区04 南海区05 顺德区06
珠海|广东省|0756|华南大区|1|4404|香洲区02 斗门区03 金湾区04
惠州|广东省|0752|华南大区|1|4413|惠城区02 惠阳区03
厦门|福建省|0592|华南大区|3|3502|思明区03 海沧区05 湖里区06 集美区11
福州|福建省|0591|华南大区|2|3501|鼓楼区02 台江区03 仓山区04 晋安区11
泉州|福建省|0595|华南大区|1|3505|鲤城区02 丰泽区03 洛江区04
南宁|广西壮族自治区|0771|华南大区|1|4501|兴宁区02 青秀区03 江南区05 西乡塘区07
海口|海南省|0898|华南大区|1|4601|秀英区05 龙华区06 琼山区07 美兰区08
武汉|湖北省|027|华中大区|5|4201|江岸区02 江汉区03 硚口区04 汉阳区05 武昌区06 洪山区11
长沙|湖南省|0731|华中大区|3|4301|芙蓉区02 天心区03 岳麓区04 开福区05 雨花区11
郑州|河南省|0371|华中大区|3|4101|中原区02 二七区03 管城回族区04 金水区05
南昌|江西省|0791|华中大区|1|3601|东湖区02 西湖区03 青云谱区04 青山湖区11
重庆||023|西南大区|5|5001|渝中区03 江北区05 沙坪坝区06 九龙坡区07 南岸区08 渝北区12
成都|四川省|028|西南大区|6|5101|锦江区04 青羊区05 金牛区06 武侯区07 成华区08
昆明|云南省|0871|西南大区|1|5301|五华区02 盘龙区03 官渡区11 西山区12
贵阳|贵州省|0851|西南大区|1|5201|南明区02 云岩区03 观山湖区15
西安|陕西省|029|西南大区|4|6101|新城区02 碑林区03 莲湖区04 未央区12 雁塔区13
兰州|甘肃省|0931|西南大区|1|6201|城关区02 七里河区03 安宁区05
"""


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _parse_cities() -> pd.DataFrame:
    rows = []
    for line in _CITY_TABLE.strip().splitlines():
        city, province, area, team, weight, prefix, districts = line.split("|")
        pairs = [(d[:-2], prefix + d[-2:]) for d in districts.split()]
        rows.append(
            {
                "city": city,
                "province": province or city + "市",
                "municipality": not province,
                "area_code": area,
                "team": team,
                "weight": float(weight),
                "districts": tuple(p[0] for p in pairs),
                "district_codes": tuple(p[1] for p in pairs),
            }
        )
    return pd.DataFrame(rows)


CITIES: pd.DataFrame = _parse_cities()
"""The demo's cities: city (bare name as in company names, e.g. 杭州), province (北京市 for a
municipality), area_code, team, weight, districts, district_codes. The universe's ``city`` is 杭州市."""

TEAMS: tuple[str, ...] = ("华北大区", "华东大区", "华南大区", "西南大区", "华中大区")

BRAND_CHARS: str = "".join(
    dict.fromkeys(
        "同腾立正方安宏峰隆达瑞飞金光汇泰伟润远联和誉航华博鑫优益嘉天云恒明智新星昌中凯盛启科祥万易蓝"
        "锦辰耀信创顺德海源丰康通美荣兴威永亿宇鼎晟佳豪诚福贵鸿浩捷迅力合众久长宁昊骏晶澜朗睿晖越"
        "卓泓奥拓展元弘欣鹏程峻奇驰超群骐麟凤龙广汉唐楚吴裕泽盈茂旭俊铭宝利"
    )
)
"""Characters that 字号 (brand names) are made of; a brand is two different ones."""

# Homophones: a keying typo or a near-identical company name swaps one for the other (华信/化信).
_HOMOPHONE_PAIRS = (
    "智志 益易 信新 源元 顺舜 创闯 鑫欣 祥翔 辰晨 润闰 华化 凯恺 博搏 伟玮 瑞锐 丰峰 云芸 德得 达大 "
    "嘉佳 威维 昌长 兴星 泰太 荣容 明铭 锦金 康慷 腾藤 耀曜 飞菲 恒衡 远园 宏弘 盛胜 安岸 和禾 天添 "
    "通同 立力 航杭 中忠 正政 光广 汇惠 宇雨 鼎顶 诚成 永勇 亿艺 骏俊 睿锐 晖辉 卓桌 鹏朋"
)
HOMOPHONES: dict[str, str] = {}
for _pair in _words(_HOMOPHONE_PAIRS):
    HOMOPHONES.setdefault(_pair[0], _pair[1])
    HOMOPHONES.setdefault(_pair[1], _pair[0])

# 行业词 and its broader industry label
TRADES: dict[str, str] = {
    "科技": "信息技术", "信息技术": "信息技术", "网络科技": "信息技术", "软件": "信息技术",
    "数据服务": "信息技术", "智能科技": "信息技术", "通信技术": "信息技术", "电子": "电子制造",
    "光电": "电子制造", "电气": "电气设备", "机械设备": "装备制造", "精密制造": "装备制造",
    "汽车配件": "汽车", "新材料": "材料化工", "化工": "材料化工", "包装材料": "材料化工",
    "环保科技": "节能环保", "能源": "能源", "建设工程": "建筑", "建筑装饰": "建筑",
    "医疗器械": "医疗健康", "生物科技": "医疗健康", "医药": "医疗健康", "食品": "食品饮料",
    "餐饮管理": "餐饮酒店", "酒店管理": "餐饮酒店", "商贸": "批发零售", "贸易": "批发零售",
    "实业": "综合", "物流": "交通物流", "供应链管理": "交通物流", "文化传媒": "文化传媒",
    "广告": "文化传媒", "咨询": "商务服务", "企业管理咨询": "商务服务", "人力资源": "商务服务",
    "教育科技": "教育", "纺织": "纺织服装", "服饰": "纺织服装", "家居": "家居建材",
    "农业科技": "农业", "印刷": "文化传媒",
}  # fmt: skip

FORMS: tuple[str, ...] = ("有限公司", "有限责任公司", "股份有限公司", "集团有限公司")
_FORM_P = np.array([0.5, 1 / 6, 1 / 6, 1 / 6])

ROADS: tuple[str, ...] = _words(
    "长江路 黄河路 人民路 中山路 解放路 建设路 新华路 文化路 学府路 科技路 创业大道 高新大道 滨江大道 "
    "东风路 金融街 和平路 青年路 胜利路 延安路 光明路 朝阳路 工业大道 体育路 花园路 友谊路 迎宾大道 "
    "湖滨路 世纪大道 新城大道 振兴路 兴业路 富民路 软件园路 创新路 环城路 北京路 上海路 南京路 建国路 "
    "复兴路 幸福路 长安街 天府大道 团结路 春晖路 海洋路 江南大道 望江路 凤凰路"
)

KIND_SHARES: dict[str, float] = {"base": 0.868, "sibling": 0.069, "branch": 0.036, "nearname": 0.027}
"""Share of each kind of company, as observed in a realistic benchmark."""

_BRANCH_SUFFIXES = ("分公司", "第一分公司", "第二分公司", "办事处")
_BRANCH_SUFFIX_P = np.array([0.88, 0.03, 0.04, 0.05])

# Chinese person names, with pinyin for user ids.
_SURNAMES = _words(
    "王wang 李li 张zhang 刘liu 陈chen 杨yang 黄huang 赵zhao 吴wu 周zhou 徐xu 孙sun 马ma 朱zhu 胡hu "
    "郭guo 何he 高gao 林lin 罗luo 郑zheng 梁liang 谢xie 宋song 唐tang 许xu 韩han 冯feng 邓deng 曹cao "
    "彭peng 曾zeng 肖xiao 田tian 董dong 袁yuan 潘pan 于yu 蒋jiang 蔡cai 余yu 杜du 叶ye 程cheng 苏su "
    "魏wei 吕lv 丁ding 任ren 沈shen 姚yao 卢lu 姜jiang 崔cui 钟zhong 谭tan 陆lu 汪wang 范fan 金jin "
    "石shi 廖liao 贾jia 夏xia 韦wei 方fang 白bai 邹zou 孟meng 熊xiong 秦qin 邱qiu 江jiang 尹yin "
    "薛xue 段duan 雷lei 侯hou 龙long 史shi 陶tao 黎li 贺he 顾gu 毛mao 郝hao 龚gong 邵shao 万wan "
    "钱qian 严yan 武wu 戴dai 莫mo 孔kong 向xiang 汤tang"
)
_GIVEN = _words(
    "伟wei 芳fang 娜na 敏min 静jing 丽li 强qiang 磊lei 军jun 洋yang 勇yong 艳yan 杰jie 娟juan 涛tao "
    "明ming 超chao 秀xiu 霞xia 平ping 刚gang 桂gui 英ying 华hua 建jian 文wen 辉hui 鹏peng 宇yu 浩hao "
    "欣xin 怡yi 梓zi 轩xuan 然ran 晨chen 俊jun 飞fei 婷ting 雪xue 琳lin 丹dan 鑫xin 斌bin 波bo "
    "峰feng 晶jing 玉yu 红hong 佳jia 子zi 思si 雨yu 诗shi 博bo 凯kai 亮liang 海hai 燕yan 萍ping"
)
SURNAME_CHARS = np.array([s[0] for s in _SURNAMES], dtype=object)
SURNAME_PINYIN = np.array([s[1:] for s in _SURNAMES], dtype=object)
GIVEN_CHARS = np.array([g[0] for g in _GIVEN], dtype=object)
GIVEN_PINYIN = np.array([g[1:] for g in _GIVEN], dtype=object)

MOBILE_PREFIXES = np.array(
    _words(
        "130 131 132 133 135 136 137 138 139 150 151 152 153 155 156 157 158 159 166 173 175 176 177 "
        "178 180 181 182 183 185 186 187 188 189 191 193 195 198 199"
    ),
    dtype=object,
)

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""统一社会信用代码 charset: a character's value is its index (0-30)."""
_USCC_CHARS = np.array(list(USCC_ALPHABET))
_ORG_VALUES = np.array([int(c, 36) for c in USCC_ALPHABET])  # GB 11714: A=10 ... Z=35
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2])
_USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28])

_DIGITS = np.array(list("0123456789"))
_EPOCH = np.datetime64("2012-01-01T00:00:00", "s")
_UNIVERSE_END = np.datetime64("2024-12-31T23:59:59", "s")


def uscc_is_valid(code: str) -> bool:
    """True when ``code`` is a well-formed 统一社会信用代码 with a correct check character (GB 32100-2015)."""
    if len(code) != 18 or any(c not in USCC_ALPHABET for c in code):
        return False
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(code[:17], _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31] == code[17]


def random_digits(rng: np.random.Generator, n: int, k: int, first_min: int = 0) -> np.ndarray:
    """``n`` random strings of ``k`` digits (object array); the first digit is at least ``first_min``."""
    d = rng.integers(0, 10, size=(n, k))
    if k:
        d[:, 0] = rng.integers(first_min, 10, size=n)
    return np.ascontiguousarray(_DIGITS[d]).view(f"<U{k}").ravel().astype(object)


def make_uscc(rng: np.random.Generator, area_codes: np.ndarray) -> np.ndarray:
    """Valid 18-char USCCs ('91' + 6-digit area + 9-char organization code + check), one per area code."""
    n = len(area_codes)
    area = np.ascontiguousarray(np.asarray(area_codes, dtype="<U6")).view("<U1").reshape(n, 6).astype(int)
    body = rng.integers(0, 31, size=(n, 8))
    org = 11 - (_ORG_VALUES[body] * _ORG_WEIGHTS).sum(axis=1) % 11
    org_check = np.where(org == 11, 0, np.where(org == 10, USCC_ALPHABET.index("X"), org))
    head = np.column_stack([np.full(n, 9), np.full(n, 1), area, body, org_check])
    check = (31 - (head * _USCC_WEIGHTS).sum(axis=1) % 31) % 31
    chars = _USCC_CHARS[np.column_stack([head, check])]
    return np.ascontiguousarray(chars).view("<U18").ravel().astype(object)


def person_names(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` Chinese person names and their pinyin (object arrays)."""
    s = rng.integers(0, len(SURNAME_CHARS), n)
    g1 = rng.integers(0, len(GIVEN_CHARS), n)
    g2 = rng.integers(0, len(GIVEN_CHARS), n)
    two = rng.random(n) < 0.6
    name = SURNAME_CHARS[s] + GIVEN_CHARS[g1] + np.where(two, GIVEN_CHARS[g2], "")
    pinyin = SURNAME_PINYIN[s] + GIVEN_PINYIN[g1] + np.where(two, GIVEN_PINYIN[g2], "")
    return name, pinyin


def mobile_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random 11-digit mainland mobile numbers."""
    return MOBILE_PREFIXES[rng.integers(0, len(MOBILE_PREFIXES), n)] + random_digits(rng, n, 8)


def random_times(rng: np.random.Generator, n: int, start: np.datetime64, end: np.datetime64) -> np.ndarray:
    """``n`` uniform random datetime64[s] in [start, end]."""
    span = int((end - start) / np.timedelta64(1, "s"))
    return start + rng.integers(0, span + 1, n).astype("timedelta64[s]")


def street_parts(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` streets as (road and number, floor): ('长江路345号', '11层'); about 40% have a floor."""
    road = np.array(ROADS, dtype=object)[rng.integers(0, len(ROADS), n)]
    number = rng.integers(1, 1000, n).astype(str).astype(object)
    floor = np.where(rng.random(n) < 0.4, rng.integers(1, 33, n).astype(str).astype(object) + "层", "")
    return road + number + "号", floor


def city_districts(rng: np.random.Generator, city_idx: np.ndarray) -> np.ndarray:
    """A random district index (into the flat district arrays) inside each given city."""
    return _DIST_START[city_idx] + (rng.random(len(city_idx)) * _DIST_COUNT[city_idx]).astype(int)


_DIST_COUNT = CITIES["districts"].map(len).to_numpy()
_DIST_START = np.concatenate([[0], np.cumsum(_DIST_COUNT)[:-1]])
DISTRICT_NAMES = np.array([d for ds in CITIES["districts"] for d in ds], dtype=object)
DISTRICT_CODES = np.array([d for ds in CITIES["district_codes"] for d in ds], dtype=object)
_CITY_P = CITIES["weight"].to_numpy() / CITIES["weight"].sum()


def make_sales_reps(n_reps: int = 40, seed: int = 7) -> pd.DataFrame:
    """The sales force: rep_id 1..n, name, team (大区), region (a city of the team), mobile, email, userid."""
    rng = np.random.default_rng([seed, 2])
    names: list[str] = []
    pinyins: list[str] = []
    while len(names) < n_reps:  # small: the reps, not the records
        nm, py = person_names(rng, 2 * n_reps)
        for a, b in zip(nm, py, strict=True):
            if a not in names and len(names) < n_reps:
                names.append(a)
                pinyins.append(b)
    rep_id = np.arange(1, n_reps + 1)
    team = np.array(TEAMS, dtype=object)[(rep_id - 1) % len(TEAMS)]
    region = [str(rng.choice(CITIES.loc[CITIES["team"] == t, "city"].to_numpy())) for t in team]
    userid = [f"{p}{i:02d}" for p, i in zip(pinyins, rep_id, strict=True)]
    return pd.DataFrame(
        {
            "rep_id": rep_id,
            "name": names,
            "team": team,
            "region": region,
            "mobile": mobile_numbers(rng, n_reps),
            "email": [f"{u}@customer-hub.example.com" for u in userid],
            "userid": userid,
        }
    )


def _kind_counts(n: int) -> dict[str, int]:
    counts = {k: round(n * s) for k, s in KIND_SHARES.items() if k != "base"}
    if n < 20:  # too small for derived companies to make sense
        counts = dict.fromkeys(counts, 0)
    counts["base"] = n - sum(counts.values())
    return counts


def _brand_keys(b1: np.ndarray, b2: np.ndarray, trade: np.ndarray, city: np.ndarray) -> np.ndarray:
    """An int64 key per (brand, trade, city); equal keys are the same name in the same city."""
    o1 = np.asarray(b1, dtype="<U1").view(np.uint32).astype(np.int64)
    o2 = np.asarray(b2, dtype="<U1").view(np.uint32).astype(np.int64)
    return (o1 << 32) | (o2 << 16) | (trade.astype(np.int64) << 8) | city.astype(np.int64)


def _first_unique(keys: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Positions of the first occurrence of each key, in original order (invalid positions dropped)."""
    _, first = np.unique(keys, return_index=True)
    first = np.sort(first)
    return first if valid is None else first[valid[first]]


def make_universe(n_entities: int = 2000, seed: int = 7, n_reps: int = 40) -> pd.DataFrame:
    """Real-world companies. Deterministic for a (n_entities, seed, n_reps).

    Kinds: ``base`` companies; ``sibling`` (same brand and trade in another city, another legal
    entity), ``branch`` (``<head office>`` + ``<city>分公司``, own USCC, parent_entity_id = head
    office) and ``nearname`` (same city and trade, one brand character differs, often a homophone).
    """
    if n_entities < 1:
        raise ValueError("n_entities must be at least 1")
    rng = np.random.default_rng([seed, 1])
    counts = _kind_counts(n_entities)
    brand_chars = np.array(list(BRAND_CHARS), dtype=object)
    trades = np.array(list(TRADES), dtype=object)
    nb, nt, nc = len(brand_chars), len(trades), len(CITIES)

    # base companies: unique (brand, trade, city)
    n_base = counts["base"]
    m = int(n_base * 1.1) + 20
    while True:
        i = rng.integers(0, nb, m)
        j = (i + rng.integers(1, nb, m)) % nb
        b1, b2 = brand_chars[i], brand_chars[j]
        trade = rng.integers(0, nt, m)
        city = rng.choice(nc, m, p=_CITY_P)
        keep = _first_unique(_brand_keys(b1, b2, trade, city))
        if len(keep) >= n_base:
            keep = keep[:n_base]
            break
        m *= 2
    b1, b2, trade, city = b1[keep], b2[keep], trade[keep], city[keep]
    base_keys = _brand_keys(b1, b2, trade, city)

    def other_city(c: np.ndarray) -> np.ndarray:
        new = rng.choice(nc, len(c), p=_CITY_P)
        return np.where(new == c, (new + 1 + rng.integers(0, nc - 1, len(c))) % nc, new)

    # siblings and nearnames: derived from a base, must not collide with any other name
    ns, nn = counts["sibling"], counts["nearname"]
    ms, mn = int(ns * 1.3) + 10, int(nn * 1.5) + 10
    sp = rng.integers(0, n_base, ms)
    s_city = other_city(city[sp])
    npar = rng.integers(0, n_base, mn)
    pos = rng.integers(0, 2, mn)
    old = np.where(pos == 0, b1[npar], b2[npar])
    homo = np.array([HOMOPHONES.get(c, "") for c in old], dtype=object)
    rand_char = brand_chars[rng.integers(0, nb, mn)]
    new = np.where((homo != "") & (rng.random(mn) < 0.8), homo, rand_char)
    n_b1 = np.where(pos == 0, new, b1[npar])
    n_b2 = np.where(pos == 1, new, b2[npar])
    near_ok = (n_b1 != n_b2) & (new != old)
    all_keys = np.concatenate(
        [
            base_keys,
            _brand_keys(b1[sp], b2[sp], trade[sp], s_city),
            _brand_keys(n_b1, n_b2, trade[npar], city[npar]),
        ]
    )
    valid = np.concatenate([np.ones(n_base + ms, bool), near_ok])
    first = _first_unique(all_keys, valid)
    sib_sel = first[(first >= n_base) & (first < n_base + ms)][:ns] - n_base
    near_sel = first[first >= n_base + ms][:nn] - n_base - ms
    if len(sib_sel) < ns or len(near_sel) < nn:  # pathological: crowded universe; keep what we have
        ns, nn = len(sib_sel), len(near_sel)

    # branches: a base head office in another city
    nbr = counts["branch"]
    mb = int(nbr * 1.2) + 10
    bp = rng.integers(0, n_base, mb)
    b_city = other_city(city[bp])
    b_suffix = rng.choice(len(_BRANCH_SUFFIXES), mb, p=_BRANCH_SUFFIX_P)
    b_sel = _first_unique(bp.astype(np.int64) * 1024 + b_city * 8 + b_suffix)[:nbr]
    nbr = len(b_sel)

    # assemble: base | sibling | nearname | branch
    parent = np.concatenate([np.full(n_base, -1), sp[sib_sel], npar[near_sel], bp[b_sel]])
    kind = np.repeat(np.array(["base", "sibling", "nearname", "branch"], dtype=object), [n_base, ns, nn, nbr])
    B1 = np.concatenate([b1, b1[sp[sib_sel]], n_b1[near_sel], b1[bp[b_sel]]])
    B2 = np.concatenate([b2, b2[sp[sib_sel]], n_b2[near_sel], b2[bp[b_sel]]])
    T = np.concatenate([trade, trade[sp[sib_sel]], trade[npar[near_sel]], trade[bp[b_sel]]])
    C = np.concatenate([city, s_city[sib_sel], city[npar[near_sel]], b_city[b_sel]])
    n = len(kind)
    is_branch = kind == "branch"
    head = np.where(is_branch, parent, np.arange(n))
    form_i = rng.choice(len(FORMS), n, p=_FORM_P)
    form_i = form_i[head]
    bracket = (rng.random(n) < 0.25)[head]

    brand = B1 + B2
    trade_s = trades[T]
    city_s = CITIES["city"].to_numpy()[C]
    name_city = city_s[head]
    form = np.array(FORMS, dtype=object)[form_i]
    head_name = np.where(
        bracket, brand + trade_s + "（" + name_city + "）" + form, name_city + brand + trade_s + form
    )
    suffix = np.full(n, "", dtype=object)
    suffix[is_branch] = city_s[is_branch] + np.array(_BRANCH_SUFFIXES, dtype=object)[b_suffix[b_sel]]
    legal = head_name[head] + suffix

    # order: each derived company right after its base, then entity ids
    anchor = np.where(parent >= 0, parent, np.arange(n))
    order = np.lexsort((rng.random(n), parent >= 0, anchor))
    width = max(7, len(str(n)))
    eid = np.empty(n, dtype=object)
    eid[order] = ["E" + str(k).zfill(width) for k in range(1, n + 1)]
    parent_eid = np.where(parent >= 0, eid[np.maximum(parent, 0)], "")
    parent_eid = np.where(is_branch, parent_eid, "")

    # places, codes, contacts
    dist = city_districts(rng, C)
    road_no, floor = street_parts(rng, n)
    street = road_no + floor
    municipal = CITIES["municipality"].to_numpy()[C]
    province = CITIES["province"].to_numpy()[C]
    address = np.where(municipal, "", province) + city_s + "市" + DISTRICT_NAMES[dist] + street
    uscc = make_uscc(rng, DISTRICT_CODES[dist].astype("<U6"))
    for _ in range(10):  # collisions are astronomically rare, but must not happen
        dup = pd.Series(uscc).duplicated().to_numpy()
        if not dup.any():
            break
        uscc[dup] = make_uscc(rng, DISTRICT_CODES[dist[dup]].astype("<U6"))
    mobile = rng.random(n) < 0.55
    landline = CITIES["area_code"].to_numpy()[C] + "-" + random_digits(rng, n, 8, first_min=2)
    phone = np.where(mobile, mobile_numbers(rng, n), landline)
    contact, _ = person_names(rng, n)

    reps = make_sales_reps(n_reps, seed)
    team_of_city = CITIES["team"].to_numpy()[C]
    rep_id = rng.integers(1, n_reps + 1, n)
    by_team = reps.sort_values(["team", "rep_id"])
    for t, grp in by_team.groupby("team"):
        sel = team_of_city == t
        ids = grp["rep_id"].to_numpy()
        rep_id[sel] = ids[rng.integers(0, len(ids), sel.sum())]

    created = random_times(rng, n, _EPOCH, _UNIVERSE_END)
    df = pd.DataFrame(
        {
            "entity_id": eid,
            "legal_name": legal,
            "short_name": brand + trade_s,
            "brand": brand,
            "trade": trade_s,
            "form": form,
            "province": province,
            "city": city_s + "市",
            "district": DISTRICT_NAMES[dist],
            "street": street,
            "address": address,
            "uscc": uscc,
            "phone": phone,
            "contact_name": contact,
            "kind": kind,
            "parent_entity_id": parent_eid,
            "rep_id": rep_id.astype(np.int64),
            "industry": pd.Series(trade_s).map(TRADES).to_numpy(),
            "created_at": pd.to_datetime(created),
        }
    )
    return df.iloc[order].reset_index(drop=True)
