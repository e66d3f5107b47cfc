"""Chinese administrative divisions, compact: what the standardizers need to read addresses and names.

Three levels:
- all 34 provinces (省 / 自治区 / 直辖市 / 特别行政区) with their short names;
- every prefecture-level city (地级市, 自治州, 地区, 盟, and the directly administered county-level
  cities that act as prefectures) with its landline area code (区号; the first city listed for a
  shared code is the one an area code maps back to);
- the districts and counties (区 / 县 / 县级市 / 旗) of the municipalities, the provincial capitals and
  the large coastal cities, which is where most B2B customers sit. A district name that occurs under
  two cities of this table (鼓楼区, 朝阳区, ...) is ambiguous on its own.

Names follow the national division codes as of 2023. Municipalities are both province and city
(北京市 → province 北京市, city 北京市). Short names: a province or city without its suffix
(广东, 深圳, 延边); a county-level city without 市 (昆山).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

# full name, short name
_PROVINCES = """
北京市 北京
天津市 天津
河北省 河北
山西省 山西
内蒙古自治区 内蒙古
辽宁省 辽宁
吉林省 吉林
黑龙江省 黑龙江
上海市 上海
江苏省 江苏
浙江省 浙江
安徽省 安徽
福建省 福建
江西省 江西
山东省 山东
河南省 河南
湖北省 湖北
湖南省 湖南
广东省 广东
广西壮族自治区 广西
海南省 海南
重庆市 重庆
四川省 四川
贵州省 贵州
云南省 云南
西藏自治区 西藏
陕西省 陕西
甘肃省 甘肃
青海省 青海
宁夏回族自治区 宁夏
新疆维吾尔自治区 新疆
台湾省 台湾
香港特别行政区 香港
澳门特别行政区 澳门
"""

# province: city:area_code ...; "full=short" where the short name is not the full name less 市/地区/盟,
# "full=" for no short name (海南藏族自治州 would read as the province 海南).
_CITIES = """
北京市: 北京市:010
天津市: 天津市:022
河北省: 石家庄市:0311 唐山市:0315 秦皇岛市:0335 邯郸市:0310 邢台市:0319 保定市:0312 张家口市:0313
 承德市:0314 沧州市:0317 廊坊市:0316 衡水市:0318
山西省: 太原市:0351 大同市:0352 阳泉市:0353 长治市:0355 晋城市:0356 朔州市:0349 晋中市:0354 运城市:0359
 忻州市:0350 临汾市:0357 吕梁市:0358
内蒙古自治区: 呼和浩特市:0471 包头市:0472 乌海市:0473 赤峰市:0476 通辽市:0475 鄂尔多斯市:0477
 呼伦贝尔市:0470 巴彦淖尔市:0478 乌兰察布市:0474 兴安盟:0482 锡林郭勒盟:0479 阿拉善盟:0483
辽宁省: 沈阳市:024 大连市:0411 鞍山市:0412 抚顺市:024 本溪市:024 丹东市:0415 锦州市:0416 营口市:0417
 阜新市:0418 辽阳市:0419 盘锦市:0427 铁岭市:024 朝阳市:0421 葫芦岛市:0429
吉林省: 长春市:0431 吉林市:0432 四平市:0434 辽源市:0437 通化市:0435 白山市:0439 松原市:0438 白城市:0436
 延边朝鲜族自治州=延边:0433
黑龙江省: 哈尔滨市:0451 齐齐哈尔市:0452 鸡西市:0467 鹤岗市:0468 双鸭山市:0469 大庆市:0459 伊春市:0458
 佳木斯市:0454 七台河市:0464 牡丹江市:0453 黑河市:0456 绥化市:0455 大兴安岭地区:0457
上海市: 上海市:021
江苏省: 南京市:025 无锡市:0510 徐州市:0516 常州市:0519 苏州市:0512 南通市:0513 连云港市:0518 淮安市:0517
 盐城市:0515 扬州市:0514 镇江市:0511 泰州市:0523 宿迁市:0527
浙江省: 杭州市:0571 宁波市:0574 温州市:0577 嘉兴市:0573 湖州市:0572 绍兴市:0575 金华市:0579 衢州市:0570
 舟山市:0580 台州市:0576 丽水市:0578
安徽省: 合肥市:0551 芜湖市:0553 蚌埠市:0552 淮南市:0554 马鞍山市:0555 淮北市:0561 铜陵市:0562 安庆市:0556
 黄山市:0559 滁州市:0550 阜阳市:0558 宿州市:0557 六安市:0564 亳州市:0558 池州市:0566 宣城市:0563
福建省: 福州市:0591 厦门市:0592 莆田市:0594 三明市:0598 泉州市:0595 漳州市:0596 南平市:0599 龙岩市:0597
 宁德市:0593
江西省: 南昌市:0791 景德镇市:0798 萍乡市:0799 九江市:0792 新余市:0790 鹰潭市:0701 赣州市:0797 吉安市:0796
 宜春市:0795 抚州市:0794 上饶市:0793
山东省: 济南市:0531 青岛市:0532 淄博市:0533 枣庄市:0632 东营市:0546 烟台市:0535 潍坊市:0536 济宁市:0537
 泰安市:0538 威海市:0631 日照市:0633 临沂市:0539 德州市:0534 聊城市:0635 滨州市:0543 菏泽市:0530
河南省: 郑州市:0371 开封市:0371 洛阳市:0379 平顶山市:0375 安阳市:0372 鹤壁市:0392 新乡市:0373 焦作市:0391
 濮阳市:0393 许昌市:0374 漯河市:0395 三门峡市:0398 南阳市:0377 商丘市:0370 信阳市:0376 周口市:0394
 驻马店市:0396 济源市:0391
湖北省: 武汉市:027 黄石市:0714 十堰市:0719 宜昌市:0717 襄阳市:0710 鄂州市:0711 荆门市:0724 孝感市:0712
 荆州市:0716 黄冈市:0713 咸宁市:0715 随州市:0722 恩施土家族苗族自治州=恩施:0718 仙桃市:0728 潜江市:0728
 天门市:0728 神农架林区=神农架:0719
湖南省: 长沙市:0731 株洲市:0731 湘潭市:0731 衡阳市:0734 邵阳市:0739 岳阳市:0730 常德市:0736 张家界市:0744
 益阳市:0737 郴州市:0735 永州市:0746 怀化市:0745 娄底市:0738 湘西土家族苗族自治州=湘西:0743
广东省: 广州市:020 韶关市:0751 深圳市:0755 珠海市:0756 汕头市:0754 佛山市:0757 江门市:0750 湛江市:0759
 茂名市:0668 肇庆市:0758 惠州市:0752 梅州市:0753 汕尾市:0660 河源市:0762 阳江市:0662 清远市:0763
 东莞市:0769 中山市:0760 潮州市:0768 揭阳市:0663 云浮市:0766
广西壮族自治区: 南宁市:0771 柳州市:0772 桂林市:0773 梧州市:0774 北海市:0779 防城港市:0770 钦州市:0777
 玉林市:0775 贵港市:0775 百色市:0776 贺州市:0774 河池市:0778 来宾市:0772 崇左市:0771
海南省: 海口市:0898 三亚市:0898 三沙市=:0898 儋州市:0898 五指山市:0898 琼海市:0898 文昌市:0898
 万宁市:0898 东方市=:0898
重庆市: 重庆市:023
四川省: 成都市:028 自贡市:0813 攀枝花市:0812 泸州市:0830 德阳市:0838 绵阳市:0816 广元市:0839 遂宁市:0825
 内江市:0832 乐山市:0833 南充市:0817 眉山市:028 宜宾市:0831 广安市:0826 达州市:0818 雅安市:0835
 巴中市:0827 资阳市:028 阿坝藏族羌族自治州=阿坝:0837 甘孜藏族自治州=甘孜:0836 凉山彝族自治州=凉山:0834
贵州省: 贵阳市:0851 六盘水市:0858 遵义市:0851 安顺市:0851 毕节市:0857 铜仁市:0856
 黔西南布依族苗族自治州=黔西南:0859 黔东南苗族侗族自治州=黔东南:0855 黔南布依族苗族自治州=黔南:0854
云南省: 昆明市:0871 曲靖市:0874 玉溪市:0877 保山市:0875 昭通市:0870 丽江市:0888 普洱市=:0879 临沧市:0883
 楚雄彝族自治州=楚雄:0878 红河哈尼族彝族自治州=:0873 文山壮族苗族自治州=文山:0876
 西双版纳傣族自治州=西双版纳:0691 大理白族自治州=大理:0872 德宏傣族景颇族自治州=德宏:0692
 怒江傈僳族自治州=怒江:0886 迪庆藏族自治州=迪庆:0887
西藏自治区: 拉萨市:0891 日喀则市:0892 昌都市:0895 林芝市:0894 山南市:0893 那曲市:0896 阿里地区=:0897
陕西省: 西安市:029 铜川市:0919 宝鸡市:0917 咸阳市:029 渭南市:0913 延安市:0911 汉中市:0916 榆林市:0912
 安康市:0915 商洛市:0914
甘肃省: 兰州市:0931 酒泉市:0937 嘉峪关市:0937 武威市:0935 金昌市:0935 白银市:0943 天水市:0938 张掖市:0936
 平凉市:0933 庆阳市:0934 定西市:0932 陇南市:0939 临夏回族自治州=临夏:0930 甘南藏族自治州=甘南:0941
青海省: 西宁市:0971 海东市:0972 海北藏族自治州=:0970 黄南藏族自治州=:0973 海南藏族自治州=:0974
 果洛藏族自治州=果洛:0975 玉树藏族自治州=:0976 海西蒙古族藏族自治州=:0977
宁夏回族自治区: 银川市:0951 石嘴山市:0952 吴忠市:0953 固原市:0954 中卫市:0955
新疆维吾尔自治区: 乌鲁木齐市:0991 克拉玛依市:0990 吐鲁番市:0995 哈密市:0902 昌吉回族自治州=昌吉:0994
 博尔塔拉蒙古自治州=博尔塔拉:0909 巴音郭楞蒙古自治州=巴音郭楞:0996 阿克苏地区:0997
 克孜勒苏柯尔克孜自治州=克孜勒苏:0908 喀什地区:0998 和田地区:0903 伊犁哈萨克自治州=伊犁:0999
 塔城地区:0901 阿勒泰地区:0906 石河子市:0993
"""

# city: its districts, counties and county-level cities
_DISTRICTS = """
北京市: 东城区 西城区 朝阳区 丰台区 石景山区 海淀区 门头沟区 房山区 通州区 顺义区 昌平区 大兴区 怀柔区
 平谷区 密云区 延庆区
天津市: 和平区 河东区 河西区 南开区 河北区 红桥区 东丽区 西青区 津南区 北辰区 武清区 宝坻区 滨海新区
 宁河区 静海区 蓟州区
石家庄市: 长安区 桥西区 新华区 井陉矿区 裕华区 藁城区 鹿泉区 栾城区 井陉县 正定县 行唐县 灵寿县 高邑县
 深泽县 赞皇县 无极县 平山县 元氏县 赵县 辛集市 晋州市 新乐市
太原市: 小店区 迎泽区 杏花岭区 尖草坪区 万柏林区 晋源区 清徐县 阳曲县 娄烦县 古交市
呼和浩特市: 新城区 回民区 玉泉区 赛罕区 土默特左旗 托克托县 和林格尔县 清水河县 武川县
沈阳市: 和平区 沈河区 大东区 皇姑区 铁西区 苏家屯区 浑南区 沈北新区 于洪区 辽中区 康平县 法库县 新民市
大连市: 中山区 西岗区 沙河口区 甘井子区 旅顺口区 金州区 普兰店区 长海县 瓦房店市 庄河市
长春市: 南关区 宽城区 朝阳区 二道区 绿园区 双阳区 九台区 农安县 榆树市 德惠市 公主岭市
哈尔滨市: 道里区 南岗区 道外区 平房区 松北区 香坊区 呼兰区 阿城区 双城区 依兰县 方正县 宾县 巴彦县 木兰县
 通河县 延寿县 尚志市 五常市
上海市: 黄浦区 徐汇区 长宁区 静安区 普陀区 虹口区 杨浦区 闵行区 宝山区 嘉定区 浦东新区 金山区 松江区
 青浦区 奉贤区 崇明区
南京市: 玄武区 秦淮区 建邺区 鼓楼区 浦口区 栖霞区 雨花台区 江宁区 六合区 溧水区 高淳区
无锡市: 锡山区 惠山区 滨湖区 梁溪区 新吴区 江阴市 宜兴市
常州市: 天宁区 钟楼区 新北区 武进区 金坛区 溧阳市
苏州市: 虎丘区 吴中区 相城区 姑苏区 吴江区 常熟市 张家港市 昆山市 太仓市
杭州市: 上城区 拱墅区 西湖区 滨江区 萧山区 余杭区 富阳区 临安区 临平区 钱塘区 桐庐县 淳安县 建德市
宁波市: 海曙区 江北区 北仑区 镇海区 鄞州区 奉化区 象山县 宁海县 余姚市 慈溪市
温州市: 鹿城区 龙湾区 瓯海区 洞头区 永嘉县 平阳县 苍南县 文成县 泰顺县 瑞安市 乐清市 龙港市
嘉兴市: 南湖区 秀洲区 嘉善县 海盐县 海宁市 平湖市 桐乡市
绍兴市: 越城区 柯桥区 上虞区 新昌县 诸暨市 嵊州市
金华市: 婺城区 金东区 武义县 浦江县 磐安县 兰溪市 义乌市 东阳市 永康市
台州市: 椒江区 黄岩区 路桥区 三门县 天台县 仙居县 温岭市 临海市 玉环市
合肥市: 瑶海区 庐阳区 蜀山区 包河区 长丰县 肥东县 肥西县 庐江县 巢湖市
福州市: 鼓楼区 台江区 仓山区 马尾区 晋安区 长乐区 闽侯县 连江县 罗源县 闽清县 永泰县 平潭县 福清市
厦门市: 思明区 海沧区 湖里区 集美区 同安区 翔安区
泉州市: 鲤城区 丰泽区 洛江区 泉港区 惠安县 安溪县 永春县 德化县 石狮市 晋江市 南安市
南昌市: 东湖区 西湖区 青云谱区 青山湖区 新建区 红谷滩区 南昌县 安义县 进贤县
济南市: 历下区 市中区 槐荫区 天桥区 历城区 长清区 章丘区 济阳区 莱芜区 钢城区 平阴县 商河县
青岛市: 市南区 市北区 黄岛区 崂山区 李沧区 城阳区 即墨区 胶州市 平度市 莱西市
烟台市: 芝罘区 福山区 牟平区 莱山区 蓬莱区 龙口市 莱阳市 莱州市 招远市 栖霞市 海阳市
郑州市: 中原区 二七区 管城回族区 金水区 上街区 惠济区 中牟县 巩义市 荥阳市 新密市 新郑市 登封市
武汉市: 江岸区 江汉区 硚口区 汉阳区 武昌区 青山区 洪山区 东西湖区 汉南区 蔡甸区 江夏区 黄陂区 新洲区
长沙市: 芙蓉区 天心区 岳麓区 开福区 雨花区 望城区 长沙县 浏阳市 宁乡市
广州市: 荔湾区 越秀区 海珠区 天河区 白云区 黄埔区 番禺区 花都区 南沙区 从化区 增城区
深圳市: 罗湖区 福田区 南山区 宝安区 龙岗区 盐田区 龙华区 坪山区 光明区
珠海市: 香洲区 斗门区 金湾区
佛山市: 禅城区 南海区 顺德区 三水区 高明区
南宁市: 兴宁区 青秀区 江南区 西乡塘区 良庆区 邕宁区 武鸣区 隆安县 马山县 上林县 宾阳县 横州市
海口市: 秀英区 龙华区 琼山区 美兰区
重庆市: 万州区 涪陵区 渝中区 大渡口区 江北区 沙坪坝区 九龙坡区 南岸区 北碚区 綦江区 大足区 渝北区 巴南区
 黔江区 长寿区 江津区 合川区 永川区 南川区 璧山区 铜梁区 潼南区 荣昌区 开州区 梁平区 武隆区 城口县 丰都县
 垫江县 忠县 云阳县 奉节县 巫山县 巫溪县 石柱土家族自治县 秀山土家族苗族自治县 酉阳土家族苗族自治县
 彭水苗族土家族自治县
成都市: 锦江区 青羊区 金牛区 武侯区 成华区 龙泉驿区 青白江区 新都区 温江区 双流区 郫都区 新津区 金堂县
 大邑县 蒲江县 都江堰市 彭州市 邛崃市 崇州市 简阳市
贵阳市: 南明区 云岩区 花溪区 乌当区 白云区 观山湖区 开阳县 息烽县 修文县 清镇市
昆明市: 五华区 盘龙区 官渡区 西山区 东川区 呈贡区 晋宁区 富民县 宜良县 石林彝族自治县 嵩明县
 禄劝彝族苗族自治县 寻甸回族彝族自治县 安宁市
拉萨市: 城关区 堆龙德庆区 达孜区 林周县 当雄县 尼木县 曲水县 墨竹工卡县
西安市: 新城区 碑林区 莲湖区 灞桥区 未央区 雁塔区 阎良区 临潼区 长安区 高陵区 鄠邑区 蓝田县 周至县
兰州市: 城关区 七里河区 西固区 安宁区 红古区 永登县 皋兰县 榆中县
西宁市: 城东区 城中区 城西区 城北区 湟中区 大通回族土族自治县 湟源县
银川市: 兴庆区 西夏区 金凤区 永宁县 贺兰县 灵武市
乌鲁木齐市: 天山区 沙依巴克区 新市区 水磨沟区 头屯河区 达坂城区 米东区 乌鲁木齐县
"""

# second codes of a city whose main code is in _CITIES
_EXTRA_AREA_CODES = {"0979": "海西蒙古族藏族自治州", "0992": "伊犁哈萨克自治州"}

PROVINCE, CITY, DISTRICT = "province", "city", "district"


@dataclass(frozen=True)
class Division:
    """One division. ``city`` is the city itself for a city and the parent city for a district."""

    level: str
    name: str
    short: str | None
    province: str
    city: str | None = None
    area_code: str | None = None


@dataclass
class Divisions:
    """The table and the lookups built from it."""

    provinces: list[Division]
    cities: list[Division]
    districts: list[Division]
    # every spelling (full or short) → the divisions it may name
    by_token: dict[str, list[Division]] = field(default_factory=dict)
    city_by_area_code: dict[str, str] = field(default_factory=dict)
    area_code_by_city: dict[str, str] = field(default_factory=dict)
    province_by_city: dict[str, str] = field(default_factory=dict)
    city_by_short: dict[str, str] = field(default_factory=dict)


def _lines(block: str) -> list[str]:
    """Join continuation lines (leading space) and drop blanks."""
    out: list[str] = []
    for raw in block.strip("\n").splitlines():
        if raw.startswith(" ") and out:
            out[-1] += raw
        elif raw.strip():
            out.append(raw.strip())
    return out


def _city_short(full: str) -> str:
    short = re.sub(r"(市|地区|盟|林区)$", "", full)
    return short if len(short) >= 2 else full


@cache
def load() -> Divisions:
    """Parse the tables once."""
    provinces = [Division(PROVINCE, f, s, f) for f, s in (ln.split() for ln in _lines(_PROVINCES))]
    cities: list[Division] = []
    for line in _lines(_CITIES):
        prov, items = line.split(":", 1)
        for item in items.split():
            name, code = item.rsplit(":", 1)
            full, _, short = name.partition("=")
            short_name: str | None = short if "=" in name else _city_short(full)
            cities.append(Division(CITY, full, short_name or None, prov.strip(), full, code))
    prov_of = {c.name: c.province for c in cities}
    districts: list[Division] = []
    for line in _lines(_DISTRICTS):
        city, items = line.split(":", 1)
        for name in items.split():
            district_short = name[:-1] if name.endswith("市") and len(name) >= 3 else None
            districts.append(Division(DISTRICT, name, district_short, prov_of[city], city))

    t = Divisions(provinces, cities, districts)
    for d in [*provinces, *cities, *districts]:
        for tok in {s for s in (d.name, d.short) if s is not None}:
            t.by_token.setdefault(tok, []).append(d)
    for p in provinces:
        if p.name.endswith("自治区") or p.name.endswith("特别行政区"):
            # common misspelling, e.g. 广西省 (a province always has its short name: the table's second column)
            assert p.short is not None, p.name
            t.by_token.setdefault(p.short + "省", []).append(p)
    for c in cities:
        # a city always has its area code (the table gives one per city)
        assert c.area_code is not None, c.name
        t.city_by_area_code.setdefault(c.area_code, c.name)
        t.area_code_by_city[c.name] = c.area_code
        t.province_by_city[c.name] = c.province
        if c.short:
            t.city_by_short[c.short] = c.name
    t.city_by_area_code.update(_EXTRA_AREA_CODES)
    for d in districts:
        if d.short:
            t.city_by_short.setdefault(d.short, d.city)  # type: ignore[arg-type]  # a district's city is always set
    return t
