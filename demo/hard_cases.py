"""The hard cases of Chinese B2B master data, added to generated customers for the matching benchmark.

`hard_case_customers(n)` takes `demo.generate.scaled_customers(n)` (case kind `base`) and adds companies of
six kinds, each with the records that must be linked and the look-alikes that must stay apart:

- `placeholder`: groups of 15 distinct companies in one city sharing a contact and a phone typed as a
  placeholder: half the groups a known one (新联系人, 13800000000), half a value no list has (李经理,
  021-55550000); each company also has a record of its own with its real phone.
- `renamed`: a company renamed (曾用名): the ERP holds the current name and the tax code; for half of them
  the former name too, in its own field, and the old CRM's record has the former name and a newer address
  only; for the other half the old CRM's record shares the phone and contact.
- `english`: a foreign-invested company written in Chinese in the CRM and in English in the ERP
  (`Beijing Jingkun Technology Co., Ltd.`, `JINGKUN TECH (BEIJING) CO.,LTD`), beside a company of the same
  brand in another city, also written both ways; a third of the English records share the phone with the
  Chinese ones, a third the address, a third nothing but the name.
- `reg_no`: legacy records identified by a 15-digit registration number (注册号), two spellings of the name,
  beside a near-identical name in the same city with another registration number; the two companies' CRM
  records share one phone (an agent's).
- `institution`: hospitals and schools named by their district (北京市海淀区中医医院, 海淀区中医医院) beside the
  institution of the same name in another district of the same city; USCC category 12; one record of each
  holds the name only.
- `group`: a group parent (…集团有限公司) and its subsidiary (…科技有限公司) in one city, sharing the head
  office's address and switchboard.

Rates: `rates[kind]` is the share of the background's record count given to that kind (default 1% each).
Deterministic for (n, seed, rates).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from demo.generate import scaled_customers
from mdm.latin_names import pinyin_of
from mdm.standardize.codes import reg_no_check_digit, uscc_check_char

CASE_KINDS = ("base", "placeholder", "renamed", "english", "reg_no", "institution", "group")
DEFAULT_RATES = {k: 0.01 for k in CASE_KINDS[1:]}

# Characters rare in the background's brands, so that a case's brand collides with nothing by chance.
_BRAND_CHARS = "璟琨珩翊昱晟煜钰珏瑾琰璞玮珲骐骥睿哲谦逸铠锐霖澜溪淼森焱垚鑫犇骁驰"
# (city, short name, area code, districts, USCC region code)
_CITIES = [
    ("北京市", "北京", "010", ("海淀区", "朝阳区", "西城区", "丰台区"), "110108"),
    ("上海市", "上海", "021", ("浦东新区", "徐汇区", "静安区", "闵行区"), "310115"),
    ("广州市", "广州", "020", ("天河区", "越秀区", "海珠区", "番禺区"), "440106"),
    ("深圳市", "深圳", "0755", ("南山区", "福田区", "宝安区", "龙岗区"), "440305"),
    ("杭州市", "杭州", "0571", ("西湖区", "滨江区", "拱墅区", "萧山区"), "330106"),
    ("成都市", "成都", "028", ("武侯区", "锦江区", "青羊区", "金牛区"), "510107"),
]
_TRADES = [("科技", "Technology", "TECH"), ("贸易", "Trading", "TRADING"), ("电子", "Electronics", "ELECTRONICS"),
           ("物流", "Logistics", "LOGISTICS"), ("医疗器械", "Medical Equipment", "MEDICAL EQUIPMENT")]
_STREETS = ["中关村大街", "科技路", "建设路", "人民路", "解放路", "新华路", "长江路", "黄河路"]
_INSTITUTIONS = ["中医医院", "人民医院", "妇幼保健院", "第一中学", "实验小学", "疾病预防控制中心"]
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅建国志宏海波鹏飞俊峰"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


class _Cases:
    """Rows of the hard cases, each with its entity and case kind."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.rows: list[dict[str, object]] = []
        self.brands: set[str] = set()
        self.n_entities = 0

    def brand(self) -> str:
        while True:
            b = "".join(self.rng.choice(list(_BRAND_CHARS), 2, replace=False))
            if pinyin_of(b) not in self.brands:  # no two brands of the cases sound alike
                self.brands.add(pinyin_of(b))
                return b

    def entity(self, kind: str) -> str:
        self.n_entities += 1
        return f"H{kind[:3].upper()}{self.n_entities:06d}"

    def add(self, entity: str, kind: str, source: str, **fields: object) -> None:
        self.rows.append({"source_name": source, "stream": "customers", "source_key": f"h{len(self.rows):07d}",
                          "entity_id": entity, "case": kind, **fields})

    def city(self) -> tuple[str, str, str, tuple[str, ...], str]:
        return _CITIES[int(self.rng.integers(len(_CITIES)))]

    def trade(self) -> tuple[str, str, str]:
        return _TRADES[int(self.rng.integers(len(_TRADES)))]

    def mobile(self) -> str:
        return "1" + str(self.rng.choice([3, 5, 8])) + "".join(map(str, self.rng.integers(0, 10, 9)))

    def landline(self, area: str) -> str:
        return f"{area}-{self.rng.integers(2, 9)}{''.join(map(str, self.rng.integers(0, 10, 7)))}"

    def person(self) -> str:
        return str(self.rng.choice(list(_SURNAMES))) + "".join(self.rng.choice(list(_GIVEN), 2))

    def address(self, city: str, district: str) -> str:
        street = _STREETS[int(self.rng.integers(len(_STREETS)))]
        return f"{city}{district}{street}{self.rng.integers(1, 999)}号{self.rng.integers(1, 30)}层"

    def uscc(self, region: str, category: str = "91") -> str:
        body = category + region + "".join(self.rng.choice(list("0123456789ABCDEFGHJKLMNPQRTUWXY"), 8))
        org = _org_check(body[8:16])
        return body + org + (uscc_check_char(body + org) or "0") if org else self.uscc(region, category)

    def reg_no(self, region: str) -> str:
        first14 = region + "".join(map(str, self.rng.integers(0, 10, 8)))
        return first14 + (reg_no_check_digit(first14) or "0")


def _org_check(first8: str) -> str | None:
    weights = [3, 7, 9, 10, 5, 8, 4, 2]
    vals = [int(c) if c.isdigit() else ord(c) - 55 for c in first8]
    c = 11 - sum(v * w for v, w in zip(vals, weights, strict=True)) % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def _placeholder(c: _Cases, groups: int) -> None:
    for g in range(groups):
        city, short, area, districts, _ = c.city()
        contact, phone = (("新联系人", "13800000000") if g % 2 == 0 else ("李经理", f"{area}-55550000"))
        trade = c.trade()
        for _ in range(15):
            e, b = c.entity("placeholder"), c.brand()
            own = c.mobile()
            c.add(e, "placeholder", "crm_a", name=f"{short}{b}{trade[0]}有限公司", phone=phone, contact_name=contact,
                  address=None)
            c.add(e, "placeholder", "crm_b", name=f"{b}{trade[0]}", phone=own, contact_name=c.person(),
                  address=c.address(city, districts[0]))
            c.add(e, "placeholder", "erp", name=f"{short}{b}{trade[0]}有限公司", phone=own, contact_name=None,
                  address=c.address(city, districts[0]))


def _renamed(c: _Cases, n: int) -> None:
    for i in range(n):
        city, short, area, districts, region = c.city()
        e, new, old = c.entity("renamed"), c.brand(), c.brand()
        trade, old_trade = c.trade(), c.trade()
        phone, contact, addr, code = c.landline(area), c.person(), c.address(city, districts[1]), c.uscc(region)
        current, former = f"{short}{new}{trade[0]}有限公司", f"{short}{old}{old_trade[0]}有限公司"
        c.add(e, "renamed", "erp", name=current, uscc=code, former_name=former if i % 2 == 0 else None,
              phone=None, address=addr)
        c.add(e, "renamed", "crm_b", name=f"{new}{trade[0]}", phone=phone, contact_name=contact, address=addr)
        if i % 2 == 0:  # the old CRM record shares nothing but the former name, which the ERP keeps (moved since)
            c.add(e, "renamed", "crm_a", name=former, phone=None, contact_name=None,
                  address=c.address(city, districts[2]))
        else:
            c.add(e, "renamed", "crm_a", name=former, uscc=code if i % 3 == 0 else None, phone=phone,
                  contact_name=contact, address=None)


def _english(c: _Cases, n: int) -> None:
    for i in range(n):
        (city, short, area, districts, region), brand = c.city(), c.brand()
        other = _CITIES[(_CITIES.index((city, short, area, districts, region)) + 1) % len(_CITIES)]  # type: ignore[arg-type]  # the table's tuples are of one shape
        trade = c.trade()
        for (cty, sh, ar, dis, reg), tag in (((city, short, area, districts, region), "a"), (other, "b")):
            e = c.entity("english")
            phone, addr, code = c.landline(ar), c.address(cty, dis[2]), c.uscc(reg)
            py = pinyin_of(brand).title()
            city_py = pinyin_of(sh)
            english = (f"{city_py.title()} {py} {trade[1]} Co., Ltd." if (i + (tag == "b")) % 2 == 0
                       else f"{py.upper()} {trade[2]} ({city_py}) CO.,LTD")
            c.add(e, "english", "crm_a", name=f"{sh}{brand}{trade[0]}有限公司", phone=phone, contact_name=c.person(),
                  address=addr)
            # A third of the English records share the phone, a third the address, a third nothing but the name.
            c.add(e, "english", "erp", name=english, uscc=code, phone=phone if i % 3 == 0 else None,
                  address=addr if i % 3 == 1 else None)
            c.add(e, "english", "crm_b", name=f"{brand}{trade[0]}", phone=phone, address=None)


def _reg_no(c: _Cases, n: int) -> None:
    for _ in range(n):
        city, short, _area, districts, region = c.city()
        brand = c.brand()
        twin = brand[0] + next(ch for ch in c.rng.permutation(list(_BRAND_CHARS))  # one character apart
                               if pinyin_of(brand[0] + ch) not in c.brands and ch != brand[1])
        c.brands.add(pinyin_of(twin))
        trade, shared = c.trade(), c.mobile()
        for b in (brand, twin):
            e, reg = c.entity("reg_no"), c.reg_no(region)
            c.add(e, "reg_no", "crm_a", name=f"{short}{b}{trade[0]}有限公司", uscc=reg, phone=None,
                  address=c.address(city, districts[0]))
            c.add(e, "reg_no", "crm_b", name=f"{b}{trade[0]}（{short}）有限责任公司", uscc=f"{reg[:6]} {reg[6:]}",
                  phone=shared, address=None)  # the twins' legacy records share an agent's phone


def _institution(c: _Cases, n: int) -> None:
    for i in range(n):  # every (city, kind) once: two institutions of one name in one district are not a case
        city, short, area, districts, region = _CITIES[i % len(_CITIES)]
        kind = _INSTITUTIONS[(i // len(_CITIES)) % len(_INSTITUTIONS)]
        for d in districts[:2]:
            e = c.entity("institution")
            code, phone, addr = c.uscc(region, "12"), c.landline(area), c.address(city, d)
            dshort = d[:-1] if len(d) > 2 else d
            c.add(e, "institution", "erp", name=f"{city}{d}{kind}", uscc=code, phone=phone, address=addr)
            c.add(e, "institution", "crm_a", name=f"{d}{kind}", phone=phone, address=None)
            c.add(e, "institution", "crm_b", name=f"{short}{dshort}{kind}", phone=None, address=addr)
            c.add(e, "institution", "crm_b", name=f"{short}{d}{kind}", phone=None, address=None)  # the name only


def _group(c: _Cases, n: int) -> None:
    for _ in range(n):
        city, short, area, districts, region = c.city()
        brand, trade = c.brand(), c.trade()
        switchboard, addr = c.landline(area), c.address(city, districts[3])
        for name in (f"{short}{brand}集团有限公司", f"{short}{brand}{trade[0]}有限公司"):
            e, code = c.entity("group"), c.uscc(region)
            c.add(e, "group", "erp", name=name, uscc=code, phone=switchboard, address=addr)
            c.add(e, "group", "crm_a", name=name.replace("有限公司", "有限责任公司"), phone=switchboard, address=addr,
                  contact_name=c.person())


_BUILDERS: dict[str, tuple[Callable[[_Cases, int], None], int]] = {
    # kind: (builder, records per unit)
    "placeholder": (_placeholder, 45), "renamed": (_renamed, 3), "english": (_english, 6),
    "reg_no": (_reg_no, 4), "institution": (_institution, 8), "group": (_group, 4),
}


def hard_case_customers(n_records: int = 20_000, seed: int = 11, rates: dict[str, float] | None = None
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Background customers (`scaled_customers`) plus the hard cases: (records in the canonical staging shape
    with `former_name`, truth with source_name, stream, source_key, entity_id, case)."""
    recs, truth = scaled_customers(n_records, seed)
    truth = truth.assign(case="base")
    c = _Cases(np.random.default_rng([seed, 19]))
    for kind, share in {**DEFAULT_RATES, **(rates or {})}.items():
        build, per_unit = _BUILDERS[kind]
        build(c, max(1, round(n_records * share / per_unit)))
    cases = pd.DataFrame(c.rows)
    cases["updated_at"] = pd.Timestamp("2026-01-01")
    records = pd.concat([recs.assign(former_name=None), cases.drop(columns=["entity_id", "case"])],
                        ignore_index=True)
    records = records.astype({k: object for k in records.columns if k != "updated_at"})
    records = records.where(records.notna(), None)
    truth = pd.concat([truth, cases[["source_name", "stream", "source_key", "entity_id", "case"]]],
                      ignore_index=True)
    return records, truth
