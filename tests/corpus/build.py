"""Builds the labelled corpus (``make corpus``); the output is committed, so later changes to the
lexicon or the matcher are measured against a fixed corpus.

- ``positives.tsv``: every lexicon phrase as the norm writes it (``exact``); five ASR-noisy forms
  of each (``noisy``: a homophone for one character, fillers, stutters, spaces and full-width
  punctuation, traditional characters); the hand-written ``reworded.tsv``.
- ``compliant.tsv``: the prescribed phrases of the seeds, ordinary agent talk composed from
  hand-written templates and slot values (bills, plans, faults, complaints, accounts), and the
  hand-written ``traps.tsv`` (compliant sentences that share characters with 禁语).

Run with ``python -m tests.corpus.build``.
"""

from __future__ import annotations

import itertools
import random
import re
from pathlib import Path

import opencc
from pypinyin import Style, lazy_pinyin

from app.scripts.loader import load_library

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _readings(phrase: str) -> list[str]:
    if "(" not in phrase:
        return [phrase.replace("/", "")]
    return [re.sub(r"\([^)]*\)", "", phrase), re.sub(r"\(([^)]*)\)", r"\1", phrase)]


def _homophones() -> dict[str, list[str]]:
    """Toneless syllable → common characters with it (CJK basic block), for ASR-like swaps."""
    chars = [chr(c) for c in range(0x4E00, 0x9FA6)]
    readings = lazy_pinyin(chars, style=Style.NORMAL, errors=lambda _: "?")
    table: dict[str, list[str]] = {}
    for char, reading in zip(chars, readings, strict=True):
        table.setdefault(reading, []).append(char)
    return table


def noisy_forms(text: str, rng: random.Random, homophones: dict[str, list[str]]) -> list[str]:
    s2t = opencc.OpenCC("s2t")
    plain = re.sub(r"[,，!！?？.。、]", "", text)
    forms = []
    # A homophone for one character (what ASR writes when it hears right and spells wrong).
    hanzi = [i for i, c in enumerate(plain) if "\u4e00" <= c <= "\u9fff"]
    for _ in range(20):
        i = rng.choice(hanzi)
        reading = lazy_pinyin(plain[i], style=Style.NORMAL)[0]
        options = [c for c in homophones.get(reading, []) if c != plain[i]][:60]
        if options:
            forms.append(plain[:i] + rng.choice(options) + plain[i + 1 :])
            break
    forms.append("嗯，" + plain[: len(plain) // 2] + "啊" + plain[len(plain) // 2 :])
    forms.append(plain[0] + plain)  # a stutter
    forms.append(" ".join(plain[i : i + 2] for i in range(0, len(plain), 2)) + "！")
    forms.append(s2t.convert(text))
    return forms


TEMPLATES = {
    "billing": [
        "您这个月的话费是{amount}元，其中{item}是{amount2}元",
        "我帮您查了一下，您的余额还有{amount}元",
        "您{month}的账单已经出来了，一共{amount}元",
        "这笔{amount}元是{item}的费用，是按月扣的",
        "您的话费会在{day}号之前退回到您的账户",
        "充值{amount}元以后会在半小时之内到账",
        "您可以通过中国移动APP查询{item}的明细",
        "发票可以在网上营业厅自助开具，{month}的也可以",
        "您现在欠费{amount}元，缴费以后就会恢复通话",
        "这个{item}是您{month}开通的，每月{amount}元",
    ],
    "plans": [
        "您现在用的是{plan}，每月包含{data}的流量",
        "如果您流量不够用，可以办理{addon}，每月{amount}元",
        "{plan}下个月生效，本月还是按原来的套餐计费",
        "您可以把{plan}改成{plan2}，变更在次月生效",
        "{addon}已经帮您取消了，下个月就不再收费",
        "您的积分有{points}分，可以兑换{gift}",
        "彩铃业务是{amount}元一个月，您需要开通吗",
        "副卡可以共享主卡的{data}流量",
        "宽带和手机可以一起办理{plan}，比较划算",
        "合约期还有{months}个月，到期以后可以续约",
    ],
    "faults": [
        "请您先把光猫重启一下，等两分钟再试试",
        "您所在的{area}基站正在维护，预计{hour}点恢复",
        "我帮您提交了故障申告，工程师会在{hours}小时内联系您",
        "请问您家里的宽带指示灯现在是什么颜色",
        "您的宽带网速我这边测了一下，大概是{speed}兆",
        "工程师明天{time}上门，上门前会先给您打电话",
        "您的手机信号问题我已经登记了，会尽快处理",
        "您先试一下把手机关机再开机，看看信号有没有恢复",
        "这边查到您的线路有故障，已经安排维修了",
        "麻烦您描述一下故障的情况，是完全上不了网吗",
    ],
    "complaints": [
        "非常抱歉给您带来不便，我马上为您登记",
        "您反映的问题我们会在{hours}小时内给您回复",
        "我理解您的心情，这个问题我帮您升级处理",
        "这笔{amount}元的费用我帮您申请退还",
        "您的意见我已经记录下来了，会反馈给相关部门",
        "请您放心，这件事我们一定给您一个满意的答复",
        "给您造成的困扰我们深表歉意",
        "我们核实以后会第一时间联系您，{title}",
        "您的投诉已经受理，工单号是{ticket}",
        "这个问题确实是我们的疏忽，非常抱歉，{title}",
    ],
    "account": [
        "请您携带本人有效证件到{area}营业厅办理",
        "为了您的账户安全，需要先核实一下您的身份",
        "请问机主的姓名是什么",
        "您的号码已经帮您办理了挂失",
        "补卡需要本人带身份证到营业厅",
        "实名信息需要本人到营业厅更新",
        "服务密码可以在营业厅重置，也可以在APP上修改",
        "过户需要双方带上身份证一起到营业厅办理",
    ],
    "smalltalk": [
        "好的，{title}",
        "嗯嗯，好的",
        "是的，您说",
        "明白了，{title}",
        "您稍等，我这边看一下",
        "您还在线吗，{title}",
        "喂，您好，能听到吗",
        "好的，我记下来了",
        "没问题，{title}",
        "对的，是这样的",
    ],
}
SLOTS = {
    "amount": ["58", "38", "128", "十", "二十", "九块九", "一百"],
    "amount2": ["5", "12", "30", "八"],
    "item": ["流量包", "语音包", "短信费", "来电显示", "彩铃", "国际漫游", "视频会员"],
    "month": ["上个月", "十月份", "这个月", "九月份"],
    "day": ["5", "15", "25"],
    "plan": ["五十八元套餐", "5G畅享套餐", "全家享套餐", "大流量卡"],
    "plan2": ["八十八元套餐", "一百二十八元套餐", "校园套餐"],
    "addon": ["十元五个G的流量包", "夜间流量包", "视频定向流量包"],
    "data": ["三十G", "二十G", "一百G"],
    "points": ["2000", "3500", "800"],
    "gift": ["话费", "流量", "视频会员"],
    "months": ["三", "六", "十二"],
    "area": ["中山路", "城南", "高新区", "人民广场"],
    "hour": ["六", "八", "十"],
    "hours": ["24", "48", "两"],
    "speed": ["一百", "三百", "五十"],
    "time": ["上午", "下午两点", "九点"],
    "title": ["先生", "女士", "王先生", "李女士", "张总"],
    "ticket": ["2026112201", "A1093"],
}


#: How agents begin and end a sentence, as ASR writes it.
PREFIXES = ["", "", "好的，", "嗯，", "是这样的，", "那个", "您好，", "嗯嗯", "对，", "这边"]
SUFFIXES = ["", "", "。", "，您看可以吗", "，先生", "，女士", "啊", "哈", "，好吧", "，您放心"]


def compose(rng: random.Random, per_template: int) -> list[tuple[str, str]]:
    """Agent talk from the templates: slot values, and the way a sentence begins and ends."""
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for category, templates in TEMPLATES.items():
        for template in templates:
            names = re.findall(r"\{(\w+)\}", template)
            combos = list(itertools.product(*(SLOTS[n] for n in names))) or [()]
            made = 0
            for _ in range(per_template * 6):
                combo = rng.choice(combos)
                text = template
                for name, value in zip(names, combo, strict=True):
                    text = text.replace("{" + name + "}", value, 1)
                text = rng.choice(PREFIXES) + text + rng.choice(SUFFIXES)
                if rng.random() < 0.3:
                    text = text.replace("您", "你")
                if text not in seen:
                    seen.add(text)
                    rows.append((category, text))
                    made += 1
                if made == per_template:
                    break
    return rows


def build() -> None:
    rng = random.Random(20261124)
    library = load_library(ROOT / "scripts_data")
    lexicon = library.lexicons["forbidden"]
    homophones = _homophones()
    positives: list[tuple[str, str, str]] = []
    for entry in lexicon.entries:
        for reading in _readings(entry.phrase):
            positives.append((entry.category, "exact", reading))
            for form in noisy_forms(reading, rng, homophones):
                positives.append((entry.category, "noisy", form))
    for line in (HERE / "reworded.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip():
            category, form, text = line.split("\t")
            positives.append((category, form, text))
    (HERE / "positives.tsv").write_text(
        "".join(f"{c}\t{f}\t{t}\n" for c, f, t in positives), encoding="utf-8"
    )
    compliant: list[tuple[str, str]] = []
    for line in (
        (ROOT / "tests" / "engine" / "prescribed_phrases.txt")
        .read_text(encoding="utf-8")
        .splitlines()
    ):
        if line.strip():
            compliant.append(("prescribed", line.split("\t")[1]))
    for script in library.scripts.values():
        for prompt in script.prompts:
            if "挂机" not in prompt.text:
                text = re.sub(
                    r"\{\w+\}",
                    "",
                    prompt.text.replace("{title}", "王先生").replace("{work_no}", "1001"),
                )
                compliant.append(("prescribed", text))
    compliant.extend(compose(rng, 28))
    for line in (HERE / "traps.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip():
            compliant.append(("traps", line.strip()))
    unique = list(dict.fromkeys(compliant))
    (HERE / "compliant.tsv").write_text("".join(f"{c}\t{t}\n" for c, t in unique), encoding="utf-8")
    print(f"positives: {len(positives)}, compliant: {len(unique)}")


if __name__ == "__main__":
    build()
