// The citizen's IMEI check: one request to the public API, the answer in the reader's language.
"use strict";

const T = {
  en: {
    title: "Check a phone before you buy it",
    intro: "Dial *#06# on the phone, or read the IMEI on its box, and enter the 15 digits. We tell you whether it has been reported stolen, lost or counterfeit.",
    label: "IMEI (15 digits)", button: "Check",
    privacy: "Only this answer is shown; who reported a phone, and why, stays with the police and the regulator.",
    blocked: "Do not buy this phone", clear: "No reports against this phone",
    reasons: { stolen: "reported stolen", lost: "reported lost", counterfeit: "counterfeit model", duplicate: "its IMEI is used by other phones (cloned)", fraud: "blocked for fraud", crime: "blocked in a criminal case", unregistered: "not registered for use in this country", invalid_imei: "invalid IMEI", other: "blocked" },
    registered: "It is registered for use in this country.", unregistered_note: "It is not on the register of permitted devices.",
    model: "Model", warning: "Warning", checkAgain: "Check the digits and try again.", failed: "The check failed; try again later.",
  },
  az: {
    title: "Telefonu almazdan əvvəl yoxlayın",
    intro: "Telefonda *#06# yığın və ya qutudakı IMEI-ni oxuyun, 15 rəqəmi daxil edin. Telefonun oğurlanmış, itirilmiş və ya saxta kimi bildirildiyini sizə deyəcəyik.",
    label: "IMEI (15 rəqəm)", button: "Yoxla",
    privacy: "Yalnız bu cavab göstərilir; telefonu kimin və niyə bildirdiyi polisdə və tənzimləyicidə qalır.",
    blocked: "Bu telefonu almayın", clear: "Bu telefon barədə heç bir bildiriş yoxdur",
    reasons: { stolen: "oğurlanmış kimi bildirilib", lost: "itirilmiş kimi bildirilib", counterfeit: "saxta model", duplicate: "IMEI-si başqa telefonlarda istifadə olunur (klon)", fraud: "fırıldaqçılığa görə bloklanıb", crime: "cinayət işi üzrə bloklanıb", unregistered: "bu ölkədə istifadə üçün qeydiyyatda deyil", invalid_imei: "etibarsız IMEI", other: "bloklanıb" },
    registered: "Bu ölkədə istifadə üçün qeydiyyatdadır.", unregistered_note: "İcazə verilmiş cihazlar reyestrində deyil.",
    model: "Model", warning: "Xəbərdarlıq", checkAgain: "Rəqəmləri yoxlayın və yenidən cəhd edin.", failed: "Yoxlama alınmadı; bir az sonra yenidən cəhd edin.",
  },
  uz: {
    title: "Telefonni sotib olishdan oldin tekshiring",
    intro: "Telefonda *#06# ni tering yoki qutidagi IMEI ni oʻqing va 15 ta raqamni kiriting. Telefon oʻgʻirlangan, yoʻqolgan yoki soxta deb xabar qilinganini aytamiz.",
    label: "IMEI (15 ta raqam)", button: "Tekshirish",
    privacy: "Faqat shu javob koʻrsatiladi; telefonni kim va nima uchun xabar qilgani politsiya va regulyatorda qoladi.",
    blocked: "Bu telefonni sotib olmang", clear: "Bu telefon boʻyicha hech qanday xabar yoʻq",
    reasons: { stolen: "oʻgʻirlangan deb xabar qilingan", lost: "yoʻqolgan deb xabar qilingan", counterfeit: "soxta model", duplicate: "IMEI boshqa telefonlarda ham ishlatilmoqda (klon)", fraud: "firibgarlik uchun bloklangan", crime: "jinoyat ishi boʻyicha bloklangan", unregistered: "bu mamlakatda foydalanish uchun roʻyxatdan oʻtmagan", invalid_imei: "yaroqsiz IMEI", other: "bloklangan" },
    registered: "Bu mamlakatda foydalanish uchun roʻyxatdan oʻtgan.", unregistered_note: "Ruxsat etilgan qurilmalar reyestrida yoʻq.",
    model: "Model", warning: "Ogohlantirish", checkAgain: "Raqamlarni tekshirib, qayta urinib koʻring.", failed: "Tekshiruv amalga oshmadi; keyinroq qayta urinib koʻring.",
  },
  ru: {
    title: "Проверьте телефон перед покупкой",
    intro: "Наберите на телефоне *#06# или посмотрите IMEI на коробке и введите 15 цифр. Мы сообщим, заявлен ли он как украденный, утерянный или поддельный.",
    label: "IMEI (15 цифр)", button: "Проверить",
    privacy: "Показывается только этот ответ; кто и почему сообщил о телефоне, остаётся у полиции и регулятора.",
    blocked: "Не покупайте этот телефон", clear: "Сообщений об этом телефоне нет",
    reasons: { stolen: "заявлен как украденный", lost: "заявлен как утерянный", counterfeit: "поддельная модель", duplicate: "его IMEI используют другие телефоны (клон)", fraud: "заблокирован за мошенничество", crime: "заблокирован по уголовному делу", unregistered: "не зарегистрирован для использования в этой стране", invalid_imei: "недействительный IMEI", other: "заблокирован" },
    registered: "Зарегистрирован для использования в этой стране.", unregistered_note: "Отсутствует в реестре разрешённых устройств.",
    model: "Модель", warning: "Внимание", checkAgain: "Проверьте цифры и попробуйте снова.", failed: "Проверка не удалась; попробуйте позже.",
  },
};

let lang = "en";
let last = null;

function el(tag, text) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  return e;
}

function setLang(l) {
  lang = T[l] ? l : "en";
  document.documentElement.lang = lang;
  for (const e of document.querySelectorAll("[data-t]")) e.textContent = T[lang][e.dataset.t];
  for (const b of document.querySelectorAll("[data-lang]")) b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
  try { localStorage.setItem("ceir-lang", lang); } catch (_) { /* private mode */ }
  if (last) render(last);
}

function render(r) {
  last = r;
  const box = document.getElementById("result");
  const t = T[lang];
  box.replaceChildren();
  box.hidden = false;
  if (r.kind === "error") {
    box.className = "error";
    box.append(el("h2", r.detail), el("p", r.network ? t.failed : t.checkAgain));
    return;
  }
  const a = r.answer;
  box.className = a.verdict === "blocked" ? "blocked" : "clear";
  box.append(el("h2", a.verdict === "blocked" ? t.blocked : t.clear));
  if (a.verdict === "blocked") {
    const ul = el("ul");
    for (const reason of a.reasons) ul.append(el("li", t.reasons[reason] || t.reasons.other));
    box.append(ul);
  }
  box.append(el("p", a.registered ? t.registered : t.unregistered_note));
  if (a.model) box.append(el("p", `${t.model}: ${a.model}`));
  if (a.warning) box.append(el("p", `${t.warning}: ${a.warning}`));
  box.append(el("p", `IMEI ${a.imei}`));
}

async function check(ev) {
  ev.preventDefault();
  const imei = document.getElementById("imei").value.replace(/[\s\-./]/g, "");
  try {
    const res = await fetch(`/api/v1/public/check/${encodeURIComponent(imei)}`, { headers: { accept: "application/json" } });
    const body = await res.json();
    render(res.ok ? { kind: "answer", answer: body } : { kind: "error", detail: body.detail || res.statusText });
  } catch (_) {
    render({ kind: "error", detail: T[lang].failed, network: true });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("check").addEventListener("submit", check);
  for (const b of document.querySelectorAll("[data-lang]")) b.addEventListener("click", () => setLang(b.dataset.lang));
  let saved = null;
  try { saved = localStorage.getItem("ceir-lang"); } catch (_) { /* private mode */ }
  const preferred = saved || (navigator.language || "en").slice(0, 2);
  setLang(preferred);
});
