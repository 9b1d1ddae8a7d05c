-- Argo CD health check for operator.loom.dev/MeshOperator.
-- Reads the conditions controllers/status.go and controllers/careconciler.go write.
-- Argo CD runs health scripts without Lua's string library: only base, table and os.

local hs = {}

local function condition(conditions, condType)
  for _, c in ipairs(conditions) do
    if c.type == condType then
      return c
    end
  end
  return nil
end

local function describe(c)
  if c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return c.type .. " is " .. c.status .. " (" .. (c.reason or "no reason") .. ")"
end

-- Reasons of Ready=False that mean the operator is still at work, not stuck.
local progressingReasons = { Installing = true, Upgrading = true }

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

local generation = tonumber(obj.metadata.generation) or 0
local observed = tonumber(obj.status.observedGeneration) or 0
if observed < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation) ..
    " (status describes " .. tostring(observed) .. ")"
  return hs
end

local conditions = obj.status.conditions
local ready = condition(conditions, "Ready")
local degraded = condition(conditions, "Degraded")
local progressing = condition(conditions, "Progressing")
local caReady = condition(conditions, "CAReady")

if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(degraded)
  return hs
end

if caReady ~= nil and caReady.status == "False" then
  hs.status = "Degraded"
  hs.message = "CA: " .. describe(caReady)
  return hs
end

if ready == nil or ready.status == "Unknown" then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end

if ready.status == "False" then
  if progressingReasons[ready.reason] then
    hs.status = "Progressing"
  else
    hs.status = "Degraded"
  end
  hs.message = describe(ready)
  return hs
end

-- Ready=True. A wait that began in this generation (a namespace still terminating, say)
-- keeps Ready from an earlier one and sets Progressing=True.
local readyGeneration = tonumber(ready.observedGeneration) or generation
if progressing ~= nil and progressing.status == "True" and readyGeneration < generation then
  hs.status = "Progressing"
  hs.message = describe(progressing)
  return hs
end

hs.status = "Healthy"
hs.message = describe(ready)
local expiring = condition(conditions, "CertificatesExpiring")
if expiring ~= nil and expiring.status == "True" then
  hs.message = hs.message .. "; warning: " .. describe(expiring)
end
local honored = condition(conditions, "MeshConfigHonored")
if honored ~= nil and honored.status == "False" then
  hs.message = hs.message .. "; note: " .. describe(honored)
end
return hs
