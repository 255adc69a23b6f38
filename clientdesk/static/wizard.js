/* New-client wizard: search the company register as you type (step 1) and fill in a template's
   defaults when one is chosen (step 2). Without JavaScript both still work through plain forms. */
(function () {
  "use strict";

  var DELAY_MS = 250;

  function setupSearch(form) {
    var input = form.querySelector("input[name=q]");
    var list = document.getElementById("register-results");
    var status = document.getElementById("register-status");
    var labels = JSON.parse(list.getAttribute("data-labels"));
    var timer = null;
    var pending = null;
    var shown = input.value.trim();

    function element(tag, className, text) {
      var node = document.createElement(tag);
      if (className) node.className = className;
      if (text) node.textContent = text;
      return node;
    }

    function pickForm(company) {
      var pick = element("form");
      pick.method = "post";
      pick.action = form.getAttribute("data-pick-url");
      [["csrf_token", form.getAttribute("data-csrf")], ["enterprise_number", company.enterprise_number]].forEach(function (pair) {
        var hidden = element("input");
        hidden.type = "hidden";
        hidden.name = pair[0];
        hidden.value = pair[1];
        pick.appendChild(hidden);
      });
      var button = element("button", "btn btn-sm btn-outline-primary", labels.use);
      button.type = "submit";
      pick.appendChild(button);
      return pick;
    }

    function item(company) {
      var li = element("li", "list-group-item register-result");
      var about = element("div");
      var title = element("div");
      title.appendChild(element("strong", "", company.name));
      title.appendChild(document.createTextNode(" "));
      title.appendChild(element("span", "text-muted",
        company.display_number + (company.legal_form ? " · " + company.legal_form : "")));
      about.appendChild(title);
      if (company.matched_name) about.appendChild(element("div", "small text-muted", labels.aka + " " + company.matched_name));
      if (company.address) about.appendChild(element("div", "small", company.address));
      li.appendChild(about);
      if (company.client) {
        var note = element("div", "small text-danger", labels.client);
        if (company.client.url) {
          note.appendChild(document.createTextNode(": "));
          var link = element("a", "", company.client.name);
          link.href = company.client.url;
          note.appendChild(link);
        } else {
          note.appendChild(document.createTextNode(" (" + labels.hidden + ")"));
        }
        li.appendChild(note);
      } else {
        li.appendChild(pickForm(company));
      }
      return li;
    }

    function show(data) {
      list.textContent = "";
      data.results.forEach(function (company) { list.appendChild(item(company)); });
      var count = data.results.length;
      status.textContent = data.message || (count === 1 ? labels.one : labels.many.replace("{n}", count));
    }

    function search() {
      var query = input.value.trim();
      if (query === shown) return;
      shown = query;
      if (pending) pending.abort();
      if (query.length < 2) {
        list.textContent = "";
        status.textContent = "";
        return;
      }
      pending = new AbortController();
      status.textContent = labels.searching;
      fetch(form.getAttribute("data-search-url") + "?q=" + encodeURIComponent(query),
            {headers: {"Accept": "application/json"}, credentials: "same-origin", signal: pending.signal})
        .then(function (response) {
          if (!response.ok) throw new Error(response.status);
          return response.json();
        })
        .then(function (data) { if (data.query === input.value.trim()) show(data); })
        .catch(function (error) { if (error.name !== "AbortError") status.textContent = String(error); });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(search, DELAY_MS);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearTimeout(timer);
      shown = null;
      search();
    });
  }

  function setupTemplateDefaults(form, defaults) {
    var template = form.elements.template;
    var prefilled = form.elements.prefilled_template;
    template.addEventListener("change", function () {
      var values = defaults[template.value] || {};
      Object.keys(values).forEach(function (name) {
        var field = form.elements[name];
        if (!field) return;
        if (field.type === "checkbox") field.checked = values[name] === "y";
        else field.value = values[name];
      });
      prefilled.value = template.value;
    });
  }

  var searchForm = document.getElementById("register-search");
  if (searchForm) setupSearch(searchForm);
  var detailsForm = document.getElementById("details-form");
  var defaults = document.getElementById("template-defaults");
  if (detailsForm && defaults) setupTemplateDefaults(detailsForm, JSON.parse(defaults.textContent));
})();
